"""Route 53 as the lab needs it, moto style (models.py: backend state and
behaviour; responses.py: protocol): TestDNSAnswer, which moto leaves
unimplemented (its URL is added to moto's route53 url_paths), a new zone's
SOA record set listed as a string rather than as the text of a dict, and
ListHostedZonesByName / ListHostedZonesByVPC answered as pages (IsTruncated,
MaxItems, the next page's marker), as AWS does."""
