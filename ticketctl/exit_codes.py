"""The process exit codes, named once."""

OK = 0
FAILURE = 1
USAGE = 2
