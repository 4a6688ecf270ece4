module paastech.local/refproxy

go 1.21
