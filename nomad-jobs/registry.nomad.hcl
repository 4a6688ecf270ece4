# The image registry every build pushes to and every docker task pulls from.
variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

job "paastech-registry" {
  datacenters = var.datacenters
  type        = "service"

  group "registry" {
    count = 1

    volume "registry" {
      type   = "host"
      source = "paastech-registry"
    }

    network {
      port "http" {
        static = 5000
      }
    }

    service {
      name     = "paastech-registry"
      provider = "nomad"
      port     = "http"
      check {
        type     = "http"
        path     = "/v2/"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "registry" {
      driver = "raw_exec"

      volume_mount {
        volume      = "registry"
        destination = "/var/lib/paastech-registry"
      }

      config {
        command = "/usr/bin/docker-registry"
        args    = ["serve", "${NOMAD_TASK_DIR}/config.yml"]
      }

      template {
        destination = "local/config.yml"
        data        = <<-YAML
          version: 0.1
          storage:
            filesystem:
              rootdirectory: /var/lib/paastech-registry
            delete:
              enabled: true
          http:
            addr: {{ env "NOMAD_ADDR_http" }}
        YAML
      }

      resources {
        cpu    = 200
        memory = 256
      }
    }
  }
}
