"""Route 53 as the lab needs it, moto style (models.py: backend state and
behaviour; responses.py: protocol): TestDNSAnswer, which moto leaves
unimplemented (its URL is added to moto's route53 url_paths), and a new
zone's SOA record set listed as a string rather than as the text of a dict."""
