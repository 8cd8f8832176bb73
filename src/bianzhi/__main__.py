from bianzhi.cli import main

main()
