from schemashift.cli import main

main()
