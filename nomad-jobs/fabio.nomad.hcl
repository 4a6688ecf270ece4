# Fabio on every edge node, routing <project>.<apps-domain> from the scheduler's route feed.
variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "fabio_binary" {
  type        = string
  description = "Path of the Fabio v1.7.x binary on the edge nodes."
  default     = "/usr/local/bin/fabio"
}

job "paastech-fabio" {
  datacenters = var.datacenters
  type        = "system"

  group "fabio" {
    network {
      port "proxy" {
        static = 9999
      }
      port "ui" {
        static = 9998
      }
    }

    task "fabio" {
      driver = "raw_exec"

      config {
        command = var.fabio_binary
        args    = ["-cfg", "${NOMAD_TASK_DIR}/fabio.properties"]
      }

      # Fabio allocates a few kB per proxied request around a small heap: with Go's default
      # GOGC=100 it collects many times a second under load. 400 trades a few tens of MB for a
      # quarter of the collections (deploy bench, router overhead); the limit keeps the heap
      # inside the task's memory. GOMAXPROCS stays one per CPU on a dedicated edge node.
      env {
        GOGC       = "400"
        GOMEMLIMIT = "96MiB"
      }

      # The route feed is the scheduler's, found through Nomad's native service discovery.
      template {
        destination = "local/fabio.properties"
        change_mode = "restart"
        data        = <<-PROPS
          proxy.addr = :{{ env "NOMAD_PORT_proxy" }}
          ui.addr = :{{ env "NOMAD_PORT_ui" }}
          registry.backend = custom
          {{ range nomadService "paastech-route-feed" }}registry.custom.host = {{ .Address }}:{{ .Port }}
          {{ end }}registry.custom.scheme = http
          registry.custom.path = routes
          registry.custom.pollinterval = 2s
          registry.custom.timeout = 2s
          {{ with nomadVar "nomad/jobs/paastech-fabio" }}registry.custom.queryparams = secret={{ .route_feed_secret }}{{ end }}
        PROPS
      }

      resources {
        cpu    = 500
        memory = 128
      }
    }
  }
}
