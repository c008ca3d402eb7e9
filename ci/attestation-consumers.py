"""Reads a preflight attestation with the in-toto framework's own consumers, not preflight's code.

- securesystemslib (the DSSE reference library): parses the envelope, computes the PAE and runs
  Envelope.verify with a Key whose verify_signature is OpenSSH's `ssh-keygen -Y verify` (namespace
  `preflight`), keyed by the SSH fingerprint preflight writes as `keyid`;
- in-toto-attestation (the framework's Python bindings): parses the statement into its Statement
  proto and runs validate(), then parses the predicate into the test-result v0 proto (ignoring
  preflight's extension field, as the in-toto parsing rules ask of consumers).

Usage: attestation-consumers.py ATTESTATION.json ALLOWED_SIGNERS PRINCIPAL
Prints the result and test counts; exits 1 when any consumer rejects the file.
Installed by ci/install-deps.sh (PyPI in-toto-attestation, securesystemslib).
"""

import base64
import json
import subprocess
import sys
import tempfile

from google.protobuf import json_format
from in_toto_attestation.predicates.test_result.v0 import test_result_pb2
from in_toto_attestation.v1 import statement_pb2
from in_toto_attestation.v1.statement import Statement
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import UnverifiedSignatureError
from securesystemslib.signer import Key


class SshKey(Key):
    """A key checked by `ssh-keygen -Y verify` against an allowed_signers file."""

    def __init__(self, keyid, allowed_signers, principal):
        super().__init__(keyid, "ssh", "sshsig", {"allowed_signers": allowed_signers})
        self.allowed_signers = allowed_signers
        self.principal = principal

    def verify_signature(self, signature, data):
        sig = bytes.fromhex(signature.signature)
        armored = base64.encodebytes(sig).decode().replace("\n", "")
        lines = [armored[i : i + 70] for i in range(0, len(armored), 70)]
        text = "-----BEGIN SSH SIGNATURE-----\n" + "\n".join(lines) + "\n-----END SSH SIGNATURE-----\n"
        with tempfile.NamedTemporaryFile("w", suffix=".sig") as f:
            f.write(text)
            f.flush()
            done = subprocess.run(
                ["ssh-keygen", "-Y", "verify", "-f", self.allowed_signers, "-I", self.principal,
                 "-n", "preflight", "-s", f.name],
                input=data, capture_output=True,
            )
        if done.returncode != 0:
            raise UnverifiedSignatureError(done.stderr.decode().strip())

    @classmethod
    def from_dict(cls, keyid, key_dict):
        raise NotImplementedError

    def to_dict(self):
        return {}


def main():
    path, allowed, principal = sys.argv[1:4]
    with open(path) as f:
        envelope_dict = json.load(f)
    keyid = envelope_dict["signatures"][0]["keyid"]
    envelope = Envelope.from_dict(envelope_dict)
    envelope.verify([SshKey(keyid, allowed, principal)], threshold=1)
    statement_pb = json_format.Parse(envelope.payload, statement_pb2.Statement())
    Statement.copy_from_pb(statement_pb).validate()
    predicate = test_result_pb2.TestResult()
    json_format.ParseDict(
        json_format.MessageToDict(statement_pb.predicate), predicate, ignore_unknown_fields=True
    )
    commit = statement_pb.subject[0].digest["gitCommit"]
    print(
        f"ok: {statement_pb.predicate_type} {predicate.result} for {commit}: "
        f"{len(predicate.passed_tests)} passed, {len(predicate.warned_tests)} warned, "
        f"{len(predicate.failed_tests)} failed; configuration {predicate.configuration[0].name} "
        f"sha256 {predicate.configuration[0].digest['sha256'][:12]}"
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # any consumer's refusal
        print(f"rejected: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
