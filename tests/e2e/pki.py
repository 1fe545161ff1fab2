"""A small PKI for mTLS: a CA, a server certificate for localhost, and client
certificates with SPIFFE URI SANs (tests/e2e/test_identity.py, and the bench's
mTLS scenario, bench/identity.py)."""
import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


class Pki:
    """A CA and the server certificate; `issue` makes more, written under `directory`."""

    def __init__(self, directory, ca_name="test mesh CA", lifetime=datetime.timedelta(hours=1)):
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.lifetime = lifetime
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ca_name)])
        self.ca = self.certificate(name, self.ca_key.public_key(), ca=True)
        self.ca_path = self.write("ca.pem", self.ca.public_bytes(serialization.Encoding.PEM))
        self.server_cert, self.server_key = self.issue("server", dns="localhost")

    def certificate(self, subject, public_key, ca=False, sans=None):
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(self.ca.subject if not ca else subject)
                   .public_key(public_key).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + self.lifetime)
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        return builder.sign(self.ca_key, hashes.SHA256())

    def write(self, name, data):
        path = self.directory / name
        path.write_bytes(data)
        return str(path)

    def issue(self, name, uri=None, dns=None):
        """(certificate path, key path) of a new certificate the CA signed."""
        key = ec.generate_private_key(ec.SECP256R1())
        sans = ([x509.UniformResourceIdentifier(uri)] if uri else []) + ([x509.DNSName(dns)] if dns else [])
        cert = self.certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), key.public_key(),
                                sans=sans)
        key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
        return (self.write(f"{name}.pem", cert.public_bytes(serialization.Encoding.PEM)),
                self.write(f"{name}.key", key_pem))
