"""SSM Run Command that runs commands (AWS-RunShellScript) on the hosts a data plane registered."""
