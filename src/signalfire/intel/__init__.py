"""Threat intelligence: ATT&CK, the indicator store (STIX 2.1, MISP, Zeek intel, lists), TAXII 2.1
server and client, STIX 2.1 export."""
