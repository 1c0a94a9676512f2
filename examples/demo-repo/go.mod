module example.com/first-vela-workflow

go 1.22
