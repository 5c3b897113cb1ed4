"""The benign public Internet the simulated operators talk to.

A catalogue of a few hundred real, popular host names (ordered by popularity, browsed with a
Zipf law), each hosted by a provider whose real address blocks its addresses are drawn from, so
that addresses, CNAME chains and TLS parameters look like the real thing. Nothing here is ever
contacted: the simulator only writes these names and addresses into logs.

Attacker infrastructure is *not* here (see ``attacks``): it lives in the documentation ranges
(RFC 5737) and under the reserved ``.example`` top-level domain, so no real party is ever
labelled malicious.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import numpy as np

# Real address blocks of the providers (public, announced); addresses are drawn inside them.
PROVIDER_PREFIXES: dict[str, tuple[str, ...]] = {
    "google": ("142.250.0.0/15", "172.217.0.0/16", "216.58.192.0/19", "34.64.0.0/10"),
    "microsoft": ("13.64.0.0/11", "20.33.0.0/16", "40.76.0.0/14", "52.96.0.0/12"),
    "amazon": ("52.84.0.0/15", "54.192.0.0/16", "3.160.0.0/14", "18.64.0.0/14"),
    "cloudflare": ("104.16.0.0/13", "172.64.0.0/13", "188.114.96.0/20"),
    "akamai": ("23.32.0.0/11", "23.192.0.0/11", "2.16.0.0/13", "184.24.0.0/13"),
    "fastly": ("151.101.0.0/16", "199.232.0.0/16"),
    "apple": ("17.0.0.0/8",),
    "meta": ("157.240.0.0/16", "31.13.64.0/18"),
    "hosting": ("5.9.0.0/16", "136.243.0.0/16", "51.15.0.0/16", "88.99.0.0/16", "94.130.0.0/16"),
}

# Residential and mobile access networks: the clients of the operators' public web sites and
# the partners that log in over SFTP.
CLIENT_PREFIXES: tuple[str, ...] = (
    "86.128.0.0/10",
    "92.40.0.0/13",
    "176.24.0.0/14",
    "82.132.0.0/14",
    "109.144.0.0/14",
    "2.24.0.0/13",
    "78.144.0.0/13",
)

UPSTREAM_RESOLVERS: tuple[tuple[str, str], ...] = (
    ("9.9.9.9", "149.112.112.112"),
    ("1.1.1.1", "1.0.0.1"),
    ("8.8.8.8", "8.8.4.4"),
)

# name, provider, kind. Kinds: web (browsed), bg (background: telemetry, sync, updates),
# cloud (sometimes uploaded to), http (plain HTTP: OCSP, CRL, legacy), mx (mail exchangers),
# update (vendor update services the update server fetches from), ntp (public NTP).
_CATALOGUE = """
www.google.com google web
www.microsoft.com akamai web
login.microsoftonline.com microsoft bg
outlook.office365.com microsoft web
teams.microsoft.com microsoft web
www.youtube.com google web
www.bing.com microsoft web
fonts.googleapis.com google web
fonts.gstatic.com google web
www.gstatic.com google web
ajax.googleapis.com google web
apis.google.com google web
accounts.google.com google web
www.googletagmanager.com google web
www.google-analytics.com google web
stats.g.doubleclick.net google web
pagead2.googlesyndication.com google web
clients4.google.com google bg
update.googleapis.com google bg
safebrowsing.googleapis.com google bg
www.office.com microsoft web
graph.microsoft.com microsoft bg
onedrive.live.com microsoft cloud
northeurope1-mediap.svc.ms microsoft web
res.cdn.office.net akamai web
statics.teams.cdn.office.net akamai web
config.teams.microsoft.com microsoft bg
self.events.data.microsoft.com microsoft bg
v10.events.data.microsoft.com microsoft bg
settings-win.data.microsoft.com microsoft bg
client.wns.windows.com microsoft bg
arc.msn.com microsoft bg
www.msn.com akamai web
assets.msn.com akamai web
ntp.msn.com akamai web
img-s-msn-com.akamaized.net akamai web
edge.microsoft.com microsoft bg
nav.smartscreen.microsoft.com microsoft bg
wdcp.microsoft.com microsoft bg
definitionupdates.microsoft.com akamai bg
go.microsoft.com akamai web
learn.microsoft.com akamai web
portal.azure.com microsoft web
management.azure.com microsoft web
sharepoint.com microsoft cloud
contoso.sharepoint.com microsoft cloud
substrate.office.com microsoft bg
ecs.office.com microsoft bg
officeclient.microsoft.com microsoft bg
github.com hosting web
api.github.com hosting web
objects.githubusercontent.com fastly web
raw.githubusercontent.com fastly web
avatars.githubusercontent.com fastly web
github.githubassets.com fastly web
stackoverflow.com cloudflare web
cdn.sstatic.net cloudflare web
www.wikipedia.org hosting web
en.wikipedia.org hosting web
upload.wikimedia.org hosting web
www.bbc.co.uk akamai web
www.bbc.com akamai web
static.files.bbci.co.uk akamai web
ichef.bbci.co.uk akamai web
www.theguardian.com fastly web
assets.guim.co.uk fastly web
i.guim.co.uk fastly web
www.reuters.com akamai web
www.ft.com fastly web
www.economist.com cloudflare web
www.bloomberg.com akamai web
www.nytimes.com fastly web
static01.nyt.com fastly web
www.cnn.com fastly web
edition.cnn.com fastly web
www.linkedin.com microsoft web
static.licdn.com akamai web
media.licdn.com akamai web
www.facebook.com meta web
static.xx.fbcdn.net meta web
www.instagram.com meta web
www.whatsapp.com meta web
web.whatsapp.com meta web
twitter.com cloudflare web
x.com cloudflare web
abs.twimg.com cloudflare web
pbs.twimg.com cloudflare web
www.amazon.com amazon web
m.media-amazon.com amazon web
images-na.ssl-images-amazon.com amazon web
www.amazon.co.uk amazon web
aws.amazon.com amazon web
console.aws.amazon.com amazon web
s3.amazonaws.com amazon cloud
d1.awsstatic.com amazon web
www.apple.com apple web
www.icloud.com apple cloud
gateway.icloud.com apple bg
swscan.apple.com apple bg
www.dropbox.com hosting cloud
content.dropboxapi.com hosting cloud
drive.google.com google cloud
docs.google.com google web
mail.google.com google web
www.salesforce.com akamai web
login.salesforce.com hosting web
zoom.us amazon web
us04web.zoom.us amazon web
www.webex.com akamai web
slack.com amazon web
app.slack.com amazon web
edgeapi.slack.com amazon bg
www.atlassian.com cloudflare web
id.atlassian.com cloudflare web
jira.atlassian.com cloudflare web
www.servicenow.com akamai web
www.adobe.com akamai web
acrobat.adobe.com akamai web
assets.adobedtm.com akamai web
use.typekit.net akamai web
cdn.jsdelivr.net fastly web
cdnjs.cloudflare.com cloudflare web
unpkg.com cloudflare web
code.jquery.com fastly web
www.cloudflare.com cloudflare web
challenges.cloudflare.com cloudflare web
static.cloudflareinsights.com cloudflare web
www.oracle.com akamai web
www.sap.com akamai web
www.ibm.com akamai web
www.cisco.com akamai web
www.paloaltonetworks.com cloudflare web
www.fortinet.com cloudflare web
www.crowdstrike.com cloudflare web
www.sans.org cloudflare web
www.cisa.gov akamai web
www.ncsc.gov.uk cloudflare web
www.enisa.europa.eu hosting web
attack.mitre.org hosting web
nvd.nist.gov akamai web
www.gov.uk fastly web
assets.publishing.service.gov.uk fastly web
www.ofgem.gov.uk cloudflare web
www.ofwat.gov.uk cloudflare web
www.metoffice.gov.uk akamai web
www.nationalgrid.com akamai web
www.entsoe.eu hosting web
transparency.entsoe.eu hosting web
www.elexon.co.uk cloudflare web
www.bankofengland.co.uk akamai web
www.ecb.europa.eu akamai web
www.swift.com akamai web
www.fca.org.uk cloudflare web
www.networkrail.co.uk akamai web
www.nationalrail.co.uk akamai web
www.ofcom.org.uk cloudflare web
www.itu.int hosting web
www.ripe.net hosting web
www.schneider-electric.com akamai web
www.siemens.com akamai web
support.industry.siemens.com akamai web
new.abb.com akamai web
www.se.com akamai web
www.rockwellautomation.com akamai web
www.selinc.com cloudflare web
www.ge.com akamai web
www.weather.com akamai web
www.accuweather.com akamai web
maps.googleapis.com google web
maps.gstatic.com google web
www.google.co.uk google web
translate.google.com google web
www.deepl.com cloudflare web
chat.openai.com cloudflare web
chatgpt.com cloudflare web
cdn.oaistatic.com cloudflare web
www.reddit.com fastly web
www.redditstatic.com fastly web
i.redd.it fastly web
www.spotify.com fastly web
open.spotify.com fastly web
www.netflix.com amazon web
www.ebay.com akamai web
www.ebay.co.uk akamai web
www.paypal.com akamai web
www.booking.com akamai web
www.trainline.com cloudflare web
www.tripadvisor.com akamai web
www.indeed.com cloudflare web
www.glassdoor.com cloudflare web
www.yahoo.com hosting web
s.yimg.com hosting web
duckduckgo.com hosting web
www.mozilla.org fastly web
www.python.org fastly web
pypi.org fastly web
files.pythonhosted.org fastly web
www.npmjs.com cloudflare web
registry.npmjs.org cloudflare web
hub.docker.com cloudflare web
www.jetbrains.com amazon web
code.visualstudio.com microsoft web
marketplace.visualstudio.com microsoft web
vscode.download.prss.microsoft.com akamai bg
www.virustotal.com google web
www.shodan.io cloudflare web
www.zscaler.com cloudflare web
cdn.optimizely.com akamai web
js.hs-scripts.com cloudflare web
connect.facebook.net meta web
bat.bing.com microsoft web
snap.licdn.com akamai web
cdn.cookielaw.org akamai web
geolocation.onetrust.com akamai web
www.recaptcha.net google web
static.zdassets.com cloudflare web
widget.intercom.io amazon web
browser.sentry-cdn.com cloudflare web
o0.ingest.sentry.io google bg
api.segment.io amazon bg
in.hotjar.com amazon bg
static.hotjar.com cloudflare web
content-autofill.googleapis.com google bg
optimizationguide-pa.googleapis.com google bg
android.clients.google.com google bg
firefox.settings.services.mozilla.com google bg
push.services.mozilla.com google bg
incoming.telemetry.mozilla.org google bg
dns.msftncsi.com akamai bg
www.msftconnecttest.com akamai http
ocsp.digicert.com akamai http
crl3.digicert.com akamai http
ocsp.pki.goog google http
c.pki.goog google http
r3.o.lencr.org akamai http
ocsp.sectigo.com cloudflare http
crl.sectigo.com cloudflare http
ctldl.windowsupdate.com akamai http
www.gocomics.com hosting http
www.timeanddate.com hosting http
neverssl.com amazon http
gmail-smtp-in.l.google.com google mx
alt1.gmail-smtp-in.l.google.com google mx
mx.contoso-com.mail.protection.outlook.com microsoft mx
eur01.mail.protection.outlook.com microsoft mx
mx1.mailhost.hosting-eu.net hosting mx
mx-in.messagelabs.com amazon mx
sws.update.microsoft.com microsoft update
fe2cr.update.microsoft.com microsoft update
download.windowsupdate.com akamai update
dl.delivery.mp.microsoft.com akamai update
archive.ubuntu.com hosting update
security.ubuntu.com hosting update
0.pool.ntp.org hosting ntp
1.pool.ntp.org hosting ntp
time.cloudflare.com cloudflare ntp
"""

KINDS: tuple[str, ...] = ("web", "bg", "cloud", "http", "mx", "update", "ntp")

_CDN_CNAME = {
    "akamai": "{stem}.edgekey.net",
    "fastly": "{stem}.map.fastly.net",
    "amazon": "d{code}.cloudfront.net",
}

_TLS13_CIPHERS = (
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
)
_TLS12_CIPHERS = (
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
)


@dataclass(frozen=True)
class Domain:
    """A public host name with its addresses and the parameters of its TLS service."""

    name: str
    provider: str
    kind: str
    ips: tuple[str, ...]
    answers: str  # Zeek's dns.log ``answers`` for an A query: CNAME chain, then the addresses
    ttls: str  # Zeek's ``TTLs`` for those answers
    tls_version: str
    cipher: str
    curve: str
    alpn: str  # next_protocol, "-" if none
    cert_chain_fps: str  # "-" for TLS 1.3, where Zeek cannot see the certificates


@dataclass(frozen=True)
class Internet:
    """The benign Internet of a simulation (see the module docstring)."""

    domains: tuple[Domain, ...]
    upstream_resolvers: tuple[tuple[str, str], ...]
    client_ips: tuple[str, ...]

    def of_kind(self, kind: str) -> list[int]:
        """Indexes of the domains of one kind, in popularity order."""
        return [i for i, d in enumerate(self.domains) if d.kind == kind]


def random_address(rng: np.random.Generator, prefix: str) -> str:
    """A host address inside ``prefix``, never its network/broadcast-looking .0 or .255."""
    net = ipaddress.ip_network(prefix)
    while True:
        candidate = net.network_address + int(rng.integers(1, net.num_addresses - 1))
        if int(candidate) % 256 not in (0, 255):
            return str(candidate)


def _fingerprint(rng: np.random.Generator) -> str:
    return bytes(rng.integers(0, 256, 32, dtype=np.uint8)).hex()


def build_internet(rng: np.random.Generator, n_clients: int = 400) -> Internet:
    """Assign addresses, CNAMEs and TLS parameters to the catalogue, reproducibly from ``rng``."""
    domains: list[Domain] = []
    used: set[str] = set()
    for line in _CATALOGUE.strip().splitlines():
        name, provider, kind = line.split()
        n_ips = 1 if kind in ("mx", "ntp") else int(rng.integers(1, 4))
        ips: list[str] = []
        prefixes = PROVIDER_PREFIXES[provider]
        while len(ips) < n_ips:
            ip = random_address(rng, prefixes[int(rng.integers(len(prefixes)))])
            if ip not in used:
                used.add(ip)
                ips.append(ip)
        chain: list[str] = []
        ttls: list[str] = []
        if provider in _CDN_CNAME:
            stem = name.replace(".", "-")
            chain.append(_CDN_CNAME[provider].format(stem=stem, code=rng.integers(10**12, 10**13)))
            ttls.append(f"{int(rng.choice([60, 300, 3600]))}.000000")
        ttl = int(rng.choice([20, 60, 300, 300, 3600]))
        answers = ",".join(chain + ips)
        ttls += [f"{ttl}.000000"] * len(ips)
        tls13 = rng.random() < 0.8
        version = "TLSv13" if tls13 else "TLSv12"
        ciphers = _TLS13_CIPHERS if tls13 else _TLS12_CIPHERS
        domains.append(
            Domain(
                name=name,
                provider=provider,
                kind=kind,
                ips=tuple(ips),
                answers=answers,
                ttls=",".join(ttls),
                tls_version=version,
                cipher=ciphers[int(rng.integers(len(ciphers)))],
                curve="x25519" if rng.random() < 0.85 else "secp256r1",
                alpn=str(rng.choice(["h2", "h2", "h2", "http/1.1", "-"])),
                cert_chain_fps="-"
                if tls13
                else ",".join(_fingerprint(rng) for _ in range(int(rng.integers(2, 4)))),
            )
        )
    clients = tuple(
        random_address(rng, CLIENT_PREFIXES[int(rng.integers(len(CLIENT_PREFIXES)))])
        for _ in range(n_clients)
    )
    return Internet(tuple(domains), UPSTREAM_RESOLVERS, clients)


def zipf_weights(n: int, exponent: float = 1.0, offset: float = 2.7) -> np.ndarray[Any, Any]:
    """Zipf–Mandelbrot popularity of ``n`` ranked names (web popularity follows it closely)."""
    ranks = np.arange(1, n + 1, dtype=np.float64)
    weights = 1.0 / (ranks + offset) ** exponent
    result: np.ndarray[Any, Any] = weights / weights.sum()
    return result
