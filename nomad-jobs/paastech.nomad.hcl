# The platform's own services: gateway (REST API), forge (git over SSH), scheduler.
variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "image" {
  type        = string
  description = "The paastech server image in the cluster's registry."
}

locals {
  # One settings file for the three services; secrets come from Nomad variables as files.
  settings = <<-TOML
    [db]
    host = "{{ with nomadVar "nomad/jobs/paastech" }}{{ .db_host }}{{ end }}"
    port = 5432
    password_file = "/secrets/db_password"

    [secrets]
    env_key_file = "/secrets/env_key"

    [apps]
    profile = "production"
  TOML
}

job "paastech" {
  datacenters = var.datacenters
  type        = "service"

  update {
    max_parallel     = 1
    health_check     = "checks"
    min_healthy_time = "10s"
    healthy_deadline = "3m"
    auto_revert      = true
  }

  group "gateway" {
    count = 2

    network {
      port "http" {
        to = 8000
      }
    }

    service {
      name     = "paastech-gateway"
      provider = "nomad"
      port     = "http"
      check {
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "gateway" {
      driver = "docker"

      config {
        image   = var.image
        command = "paastech-server"
        args    = ["gateway", "--config", "/local/paastech.toml"]
        ports   = ["http"]
      }

      env {
        PAASTECH_GATEWAY__HOST = "0.0.0.0"
      }

      template {
        destination = "local/paastech.toml"
        data        = local.settings
      }

      template {
        destination = "secrets/db_password"
        data        = "{{ with nomadVar \"nomad/jobs/paastech\" }}{{ .db_password }}{{ end }}"
      }

      template {
        destination = "secrets/env_key"
        data        = "{{ with nomadVar \"nomad/jobs/paastech\" }}{{ .env_key }}{{ end }}"
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }

  group "forge" {
    count = 1

    # Bare repositories live on the node; the forge is the one stateful service.
    volume "repos" {
      type   = "host"
      source = "paastech-repos"
    }

    network {
      port "ssh" {
        static = 2222
      }
    }

    service {
      name     = "paastech-forge"
      provider = "nomad"
      port     = "ssh"
      check {
        type     = "tcp"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "forge" {
      driver = "docker"

      volume_mount {
        volume      = "repos"
        destination = "/var/lib/paastech"
      }

      config {
        image   = var.image
        command = "paastech-server"
        args    = ["forge", "--config", "/local/paastech.toml"]
        ports   = ["ssh"]
      }

      env {
        PAASTECH_STATE_DIR   = "/var/lib/paastech"
        PAASTECH_FORGE__HOST = "0.0.0.0"
      }

      template {
        destination = "local/paastech.toml"
        data        = local.settings
      }

      template {
        destination = "secrets/db_password"
        data        = "{{ with nomadVar \"nomad/jobs/paastech\" }}{{ .db_password }}{{ end }}"
      }

      template {
        destination = "secrets/env_key"
        data        = "{{ with nomadVar \"nomad/jobs/paastech\" }}{{ .env_key }}{{ end }}"
      }

      resources {
        cpu    = 500
        memory = 512
      }
    }
  }

  group "scheduler" {
    count = 1

    network {
      port "feed" {
        to = 8001
      }
    }

    service {
      name     = "paastech-route-feed"
      provider = "nomad"
      port     = "feed"
      check {
        type     = "http"
        path     = "/routes"
        interval = "10s"
        timeout  = "2s"
      }
    }

    task "scheduler" {
      driver = "docker"

      config {
        image   = var.image
        command = "paastech-server"
        args    = ["scheduler", "--config", "/local/paastech.toml"]
        ports   = ["feed"]
      }

      env {
        PAASTECH_FABIO__ROUTE_FEED_HOST = "0.0.0.0"
        PAASTECH_NOMAD__ADDRESS         = "http://${attr.unique.network.ip-address}:4646"
      }

      template {
        destination = "local/paastech.toml"
        data        = local.settings
      }

      template {
        destination = "secrets/db_password"
        data        = "{{ with nomadVar \"nomad/jobs/paastech\" }}{{ .db_password }}{{ end }}"
      }

      template {
        destination = "secrets/env_key"
        data        = "{{ with nomadVar \"nomad/jobs/paastech\" }}{{ .env_key }}{{ end }}"
      }

      resources {
        cpu    = 300
        memory = 256
      }
    }
  }
}
