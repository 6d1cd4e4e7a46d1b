"""`craftkit`: the command line. `cli.main:main` is the click group; one module per family."""
