module crashbox.dev/shim

go 1.21
