"""Answers sealed with the Monitoring KMS key: encrypted where they are received, opened only where
they are stored in a batch (see :class:`mentoring.models.SealedAnswers`). Monitoring answers and
evaluation answers are sealed alike, each under its own purpose in the encryption context, so KMS
opens each only as what it is."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from mentoring.adapters import client
from mentoring.models import (
    EVALUATION_PURPOSE,
    SEALED_ANSWERS_PURPOSE,
    EvaluationAnswers,
    MonitoringAnswers,
    SealedAnswers,
    sealing_context,
)

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

A = TypeVar("A", bound=BaseModel)


class UnreadableAnswersError(ValueError):
    """Sealed answers that opened to something other than the answers expected. The message never
    holds what was read."""


class _KmsSealed(Generic[A]):
    """AnswerSealer and AnswerOpener with KMS: one Encrypt or Decrypt a person (the answers are a
    few hundred bytes, well inside KMS's 4 KB), bound to the cohort and the purpose by the
    encryption context."""

    def __init__(self, key_id: str, answers: type[A], purpose: str, kms: KMSClient | None = None) -> None:
        self.key_id = key_id
        self.answers = answers
        self.purpose = purpose
        self._client = kms

    @property
    def kms(self) -> KMSClient:
        if self._client is None:
            self._client = client("kms")
        return self._client

    def seal(self, answers: A, cohort_id: str) -> SealedAnswers:
        blob = self.kms.encrypt(
            KeyId=self.key_id,
            Plaintext=answers.model_dump_json().encode(),
            EncryptionContext=sealing_context(cohort_id, self.purpose),
        )["CiphertextBlob"]
        return SealedAnswers(ciphertext=base64.b64encode(blob).decode())

    def open(self, sealed: SealedAnswers, cohort_id: str) -> A:
        plaintext = self.kms.decrypt(
            CiphertextBlob=base64.b64decode(sealed.ciphertext),
            KeyId=self.key_id,  # refuses ciphertext made under any other key
            EncryptionContext=sealing_context(cohort_id, self.purpose),
        )["Plaintext"]
        try:
            return self.answers.model_validate_json(plaintext)
        except ValidationError:
            raise UnreadableAnswersError(f"sealed answers that are not {self.purpose} answers") from None


class KmsAnswers(_KmsSealed[MonitoringAnswers]):
    """Equal-opportunities monitoring answers (sealed by submit, opened by monitoring)."""

    def __init__(self, key_id: str, kms: KMSClient | None = None) -> None:
        super().__init__(key_id, MonitoringAnswers, SEALED_ANSWERS_PURPOSE, kms)


class KmsEvaluationAnswers(_KmsSealed[EvaluationAnswers]):
    """Evaluation answers (sealed by the participant page, opened by monitoring)."""

    def __init__(self, key_id: str, kms: KMSClient | None = None) -> None:
        super().__init__(key_id, EvaluationAnswers, EVALUATION_PURPOSE, kms)
