from ticketctl.cli import main

main()
