"""Monitoring answers sealed with the Monitoring KMS key: encrypted where they are received, opened
only where they are stored in a batch (see :class:`mentoring.models.SealedAnswers`)."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from pydantic import ValidationError

from mentoring.adapters import client
from mentoring.models import MonitoringAnswers, SealedAnswers, sealing_context

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


class UnreadableAnswersError(ValueError):
    """Sealed answers that opened to something other than monitoring answers. The message never
    holds what was read."""


class KmsAnswers:
    """AnswerSealer and AnswerOpener with KMS: one Encrypt or Decrypt a person (the answers are a
    few hundred bytes, well inside KMS's 4 KB), bound to the cohort by the encryption context."""

    def __init__(self, key_id: str, kms: KMSClient | None = None) -> None:
        self.key_id = key_id
        self._client = kms

    @property
    def kms(self) -> KMSClient:
        if self._client is None:
            self._client = client("kms")
        return self._client

    def seal(self, answers: MonitoringAnswers, cohort_id: str) -> SealedAnswers:
        blob = self.kms.encrypt(
            KeyId=self.key_id,
            Plaintext=answers.model_dump_json().encode(),
            EncryptionContext=sealing_context(cohort_id),
        )["CiphertextBlob"]
        return SealedAnswers(ciphertext=base64.b64encode(blob).decode())

    def open(self, sealed: SealedAnswers, cohort_id: str) -> MonitoringAnswers:
        plaintext = self.kms.decrypt(
            CiphertextBlob=base64.b64decode(sealed.ciphertext),
            KeyId=self.key_id,  # refuses ciphertext made under any other key
            EncryptionContext=sealing_context(cohort_id),
        )["Plaintext"]
        try:
            return MonitoringAnswers.model_validate_json(plaintext)
        except ValidationError:
            raise UnreadableAnswersError("sealed answers that are not monitoring answers") from None
