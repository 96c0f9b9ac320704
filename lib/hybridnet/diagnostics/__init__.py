"""Diagnostics: collectors that return pandas DataFrames (and their charts).

DNS resolution matrix (phase 3, hybrid DNS)::

    from hybridnet.diagnostics.dns import Probe, probe_matrix
    df = probe_matrix([
        Probe("on-prem client", "192.168.2.250", "web1.awsanycompany.corp", expected=["10.0.10.10"],
              netns="hn-idc"),
        Probe("VPC host", "10.0.0.2", "websrv.anycompany.corp", expected=["192.168.2.20"], netns="hn-vpc"),
    ])
"""
