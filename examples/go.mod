module crashbox.example/examples

go 1.21
