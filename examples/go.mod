module crashbox.example/examples

go 1.21

require crashbox.dev/shim v0.0.0

replace crashbox.dev/shim => ../shim
