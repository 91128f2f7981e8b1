"""ticketctl: an email-to-ticket workflow engine for the command line."""

__version__ = "0.1.0"
