"""The Applications table (cohorts, applications, results) and the Monitoring table."""

from __future__ import annotations

import itertools
import random
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from botocore.exceptions import ClientError

from mentoring.adapters import client, in_parallel
from mentoring.models import (
    Application,
    AuditEntry,
    Cohort,
    CohortStatus,
    EvaluationRecord,
    HeldMark,
    HeldSubmission,
    HelpRequest,
    Match,
    Meeting,
    MonitoringAnswers,
    MonitoringRecord,
    NextYearChoice,
    ParticipantLink,
    PartnershipEnd,
    PendingAnswers,
    PendingEvaluation,
    Role,
    SealedAnswers,
    StaffMember,
    TrainingAttendance,
    UnmatchedMentee,
    new_record_id,
)
from mentoring.ports import (
    AlreadyAnsweredError,
    Claim,
    ClaimedSubmission,
    CohortClosedError,
    CohortExistsError,
    DuplicateSubmissionError,
    Lease,
    OutboxEntry,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

COHORT = "COHORT"
# One partition lists every cohort, so the form can offer the open ones without a scan.
COHORT_LIST = {"S": "COHORTS"}
APPLICATION = "APPLICATION#"
MATCH = "MATCH#"
UNMATCHED = "UNMATCHED#"
PLACE = "PLACE#"
PENDING = "PENDING#"
P = TypeVar("P")
R = TypeVar("R")
TRANSACTION_ITEMS = 100  # DynamoDB's most items a transaction
# One item per name at an institution (mentoring.identity.person_key), with the ids of the
# applications under it: two or more are a possible duplicate for the coordinator.
PERSON = "PERSON#"
WRITE_ATTEMPTS = 10
# A web-form application held for confirmation: its own partition, under its link's token hash;
# and its mark in the cohort's partition, under its submission id (no identity: role, institution,
# the link's time, whether confirmed), so the console counts those awaiting without a scan.
HELD = "HELD#"
# "Would you like to be a mentor next year?": personal data, in the cohort's partition under the
# person's application, with the cohort's retention (never in the Monitoring table).
NEXT_YEAR = "NEXTYEAR#"
# That an application answered its cohort's survey (identity's side: never what it answered).
EVALUATED = "EVALUATED#"
# Evaluation answers in the Monitoring table: pending (sealed) and stored, under keys of their own
# (a monitoring record's key is a bare UUID), so neither kind is ever read as the other.
EVALUATION_PENDING = "EVALUATION-PENDING#"
EVALUATION = "EVALUATION#"


class Retention:
    """When a cohort's personal data goes: the recruitment deadline plus the retention period.

    Every item written for a cohort (application, place, claim, result, outbox record) carries it
    as ``expires_at``, the table's TTL attribute, so DynamoDB deletes it then; the anonymous
    monitoring records and the report's counts are kept.
    """

    def __init__(self, table: str, days: int | None, dynamodb: Any = None) -> None:
        self.table = table
        self.days = days
        self._client = dynamodb
        self._deadlines: dict[str, int | None] = {}

    def attribute(self, cohort_id: str) -> dict[str, Any]:
        if self.days is None:
            return {}
        if cohort_id not in self._deadlines:
            db = self._client or client("dynamodb")
            item = db.get_item(TableName=self.table, Key={"pk": _pk(cohort_id), "sk": {"S": COHORT}}).get(
                "Item"
            )
            deadline = Cohort.model_validate_json(item["data"]["S"]).recruitment_deadline if item else None
            self._deadlines[cohort_id] = (
                int((deadline + timedelta(days=self.days)).timestamp()) if deadline is not None else None
            )
        expires = self._deadlines[cohort_id]
        return {} if expires is None else {"expires_at": {"N": str(expires)}}


def _pk(cohort_id: str) -> dict[str, str]:
    return {"S": f"COHORT#{cohort_id}"}


def _id_ranges(prefix: str, splits: str = "123456789abcdef") -> list[tuple[str, str]]:
    """Sort-key ranges that together hold every key starting with ``prefix``, whatever the ids:
    ``prefix`` to ``prefix + "1"``, ..., then ``prefix + "f"`` to the first key after the prefix
    (ids are hexadecimal digests, so the ranges come out about even)."""
    after = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    bounds = [prefix, *(prefix + c for c in splits), after]
    return list(itertools.pairwise(bounds))


def application_item(application: Application) -> dict[str, Any]:
    """An application as the Applications table holds it (the store adds the retention attribute);
    the benchmarks put national cohorts in the table with it, as intake would."""
    return {
        "pk": _pk(application.cohort_id),
        "sk": {"S": APPLICATION + application.application_id},
        "role": {"S": application.role.value},
        "eligible": {"BOOL": application.eligibility.eligible},
        "data": {"S": application.model_dump_json()},
    }


def _cohort(item: dict[str, Any]) -> Cohort:
    cohort = Cohort.model_validate_json(item["data"]["S"])
    admitted = int(item.get("admitted_mentees", {}).get("N", "0"))
    until = item.get("matching_until", {}).get("N")
    return cohort.model_copy(
        update={
            "status": CohortStatus(item["status"]["S"]),
            "admitted_mentees": admitted,
            "matching_until": None if until is None else datetime.fromtimestamp(int(until), UTC),
        }
    )


def _epoch(moment: datetime) -> dict[str, str]:
    return {"N": str(int(moment.timestamp()))}


def _conditional_failed(error: ClientError) -> bool:
    code = error.response.get("Error", {}).get("Code")
    return code in {"ConditionalCheckFailedException", "TransactionCanceledException"}


class _Table:
    """One DynamoDB table, its client created on first use (never at import, so cold starts stay short)."""

    def __init__(
        self, table: str, dynamodb: DynamoDBClient | None = None, retention_days: int | None = None
    ) -> None:
        self.table = table
        self._client = dynamodb
        self.retention = Retention(table, retention_days, dynamodb)

    @property
    def db(self) -> DynamoDBClient:
        if self._client is None:
            self._client = client("dynamodb")
        return self._client


class DynamoApplications(_Table):
    """CohortStore and ApplicationStore over one table, keyed by cohort.

    Items keep the model as JSON in ``data`` plus a few plain attributes for the console and queries.
    """

    def __init__(
        self,
        table: str,
        monitoring_table: str | None = None,
        dynamodb: DynamoDBClient | None = None,
        retention_days: int | None = None,
    ) -> None:
        super().__init__(table, dynamodb, retention_days)
        self.monitoring_table = monitoring_table

    # ------------------------------------------------------------ cohorts
    def get_cohort(self, cohort_id: str) -> Cohort | None:
        item = self.db.get_item(
            TableName=self.table, Key={"pk": _pk(cohort_id), "sk": {"S": COHORT}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else _cohort(item)

    def create_cohort(self, cohort: Cohort) -> None:
        data = {"S": cohort.model_dump_json()}
        try:
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": _pk(cohort.cohort_id),
                                "sk": {"S": COHORT},
                                "status": {"S": cohort.status.value},
                                "scheme_id": {"S": cohort.scheme_id},
                                "data": data,
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": COHORT_LIST,
                                "sk": {"S": f"COHORT#{cohort.cohort_id}"},
                                "data": data,
                            },
                        }
                    },
                ]
            )
        except ClientError as error:
            if _conditional_failed(error):
                raise CohortExistsError(f"cohort {cohort.cohort_id!r} already exists") from error
            raise

    def list_open_cohorts(self, now: datetime) -> list[Cohort]:
        cohorts = [Cohort.model_validate_json(d) for d in self._query_partition(COHORT_LIST, "COHORT#")]
        return sorted(
            (c for c in cohorts if c.recruitment_deadline > now),
            key=lambda c: (c.recruitment_deadline, c.cohort_id),
        )

    def list_cohorts(self) -> list[Cohort]:
        """Every cohort from the list partition, each with its status read from its own item."""
        ids = [Cohort.model_validate_json(d).cohort_id for d in self._query_partition(COHORT_LIST, "COHORT#")]
        cohorts = []
        for start in range(0, len(ids), 100):
            keys: list[Any] = [{"pk": _pk(i), "sk": {"S": COHORT}} for i in ids[start : start + 100]]
            request: dict[str, Any] = {self.table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self.db.batch_get_item(RequestItems=request)
                cohorts += [_cohort(item) for item in response.get("Responses", {}).get(self.table, [])]
                request = dict(response.get("UnprocessedKeys", {}))
        return sorted(cohorts, key=lambda c: (c.recruitment_deadline, c.cohort_id))

    def move_deadline(self, cohort_id: str, deadline: datetime) -> bool:
        cohort = self.get_cohort(cohort_id)
        if cohort is None:
            return False
        moved = cohort.model_copy(update={"recruitment_deadline": deadline})
        # The stored JSON keeps the cohort as opened; status and counters live in attributes.
        data = {
            "S": moved.model_copy(
                update={"status": CohortStatus.OPEN, "admitted_mentees": 0}
            ).model_dump_json()
        }
        try:
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {"pk": _pk(cohort_id), "sk": {"S": COHORT}},
                            "UpdateExpression": "SET #data = :data",
                            "ConditionExpression": "#status = :open",
                            "ExpressionAttributeNames": {"#data": "data", "#status": "status"},
                            "ExpressionAttributeValues": {
                                ":data": data,
                                ":open": {"S": CohortStatus.OPEN.value},
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {"pk": COHORT_LIST, "sk": {"S": f"COHORT#{cohort_id}"}, "data": data},
                        }
                    },
                ]
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def _count_a_place(self, cohort_id: str, limit: int) -> TransactWriteItemTypeDef:
        """The cohort's count of mentees given a place, one up, in a transaction: refused at ``limit``."""
        return {
            "Update": {
                "TableName": self.table,
                "Key": {"pk": _pk(cohort_id), "sk": {"S": COHORT}},
                "UpdateExpression": "SET admitted_mentees = if_not_exists(admitted_mentees, :zero) + :one",
                "ConditionExpression": "attribute_not_exists(admitted_mentees) OR admitted_mentees < :limit",
                "ExpressionAttributeValues": {
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                    ":limit": {"N": str(limit)},
                },
            }
        }

    def admit(self, application: Application, limit: int) -> bool:
        cohort_id = application.cohort_id
        admitted = application.model_copy(update={"waiting_list": False})
        try:
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": _pk(cohort_id),
                                "sk": {"S": f"{PLACE}{application.application_id}"},
                                **self.retention.attribute(cohort_id),
                            },
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    self._count_a_place(cohort_id, limit),
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": {
                                "pk": _pk(cohort_id),
                                "sk": {"S": APPLICATION + application.application_id},
                            },
                            "UpdateExpression": "SET #data = :data",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeNames": {"#data": "data"},
                            "ExpressionAttributeValues": {":data": {"S": admitted.model_dump_json()}},
                        }
                    },
                ]
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def take_place(self, cohort_id: str, application_id: str, limit: int) -> bool:
        """One place per mentee, counted on the cohort: a place item and the counter move together.

        A redelivery finds its place item and keeps its place; a cohort at its limit refuses more.
        """
        place_key = {"pk": _pk(cohort_id), "sk": {"S": f"{PLACE}{application_id}"}}
        place_item = {**place_key, **self.retention.attribute(cohort_id)}
        try:
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": place_item,
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    self._count_a_place(cohort_id, limit),
                ]
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            reasons = error.response.get("CancellationReasons", [])
            # The place item exists: this mentee took a place on an earlier delivery.
            return bool(reasons) and reasons[0].get("Code") == "ConditionalCheckFailed"
        return True

    def _update_cohort(self, cohort_id: str, **update: Any) -> bool:
        """One conditional update of the cohort's item: False when its condition does not hold."""
        try:
            self.db.update_item(
                TableName=self.table, Key={"pk": _pk(cohort_id), "sk": {"S": COHORT}}, **update
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def _move(self, cohort_id: str, source: CohortStatus, target: CohortStatus, at: datetime | None) -> bool:
        values: dict[str, Any] = {":from": {"S": source.value}, ":to": {"S": target.value}}
        update = "SET #status = :to"
        if at is not None:
            update += f", {target.value}_at = :at"
            values[":at"] = {"S": at.isoformat()}
        return self._update_cohort(
            cohort_id,
            UpdateExpression=update,
            ConditionExpression="#status = :from",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    def claim_for_matching(self, cohort_id: str, lease: Lease) -> bool:
        """One conditional update: open, or matching under a lease that has run out (or is this
        owner's), becomes matching under ``lease``. A cohort matching from before leases were
        kept (no ``matching_until``) counts as run out."""
        return self._update_cohort(
            cohort_id,
            UpdateExpression="SET #status = :matching, matching_at = :at, matching_owner = :owner, "
            "matching_until = :until",
            ConditionExpression="#status = :open OR (#status = :matching AND ("
            "attribute_not_exists(matching_until) OR matching_until < :now OR matching_owner = :owner))",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":open": {"S": CohortStatus.OPEN.value},
                ":matching": {"S": CohortStatus.MATCHING.value},
                ":at": {"S": lease.taken.isoformat()},
                ":owner": {"S": lease.owner},
                ":until": _epoch(lease.until),
                ":now": _epoch(lease.taken),
            },
        )

    def _leave_matching(self, cohort_id: str, owner: str, target: CohortStatus, at: datetime | None) -> bool:
        values: dict[str, Any] = {
            ":matching": {"S": CohortStatus.MATCHING.value},
            ":to": {"S": target.value},
            ":owner": {"S": owner},
        }
        update = "SET #status = :to"
        if at is not None:
            update += f", {target.value}_at = :at"
            values[":at"] = {"S": at.isoformat()}
        return self._update_cohort(
            cohort_id,
            UpdateExpression=update + " REMOVE matching_owner, matching_until",
            ConditionExpression="#status = :matching AND matching_owner = :owner",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=values,
        )

    def finish_matching(self, cohort_id: str, at: datetime, owner: str, provisional: bool = False) -> bool:
        target = CohortStatus.PROVISIONAL if provisional else CohortStatus.MATCHED
        return self._leave_matching(cohort_id, owner, target, at)

    def publish_matches(self, cohort_id: str, at: datetime) -> bool:
        return self._move(cohort_id, CohortStatus.PROVISIONAL, CohortStatus.MATCHED, at)

    def release_matching(self, cohort_id: str, owner: str) -> None:
        self._leave_matching(cohort_id, owner, CohortStatus.OPEN, None)

    def hold_for_settling(self, cohort_id: str, lease: Lease) -> bool:
        return self._update_cohort(
            cohort_id,
            UpdateExpression="SET settling_owner = :owner, settling_until = :until",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(settling_until) "
            "OR settling_until < :now OR settling_owner = :owner)",
            ExpressionAttributeValues={
                ":owner": {"S": lease.owner},
                ":until": _epoch(lease.until),
                ":now": _epoch(lease.taken),
            },
        )

    def let_go_of_settling(self, cohort_id: str, owner: str) -> None:
        self._update_cohort(
            cohort_id,
            UpdateExpression="REMOVE settling_owner, settling_until",
            ConditionExpression="settling_owner = :owner",
            ExpressionAttributeValues={":owner": {"S": owner}},
        )

    # ------------------------------------------------------------ applications
    def record_application(
        self, application: Application, monitoring: PendingAnswers | None, while_open: bool = False
    ) -> bool:
        if self.monitoring_table is None:
            raise RuntimeError("this store was built without the monitoring table")
        item = {**application_item(application), **self.retention.attribute(application.cohort_id)}
        items: list[Any] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": item,
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        ]
        if monitoring is not None:
            # Held as pending, still sealed: moved to the store in batches (mentoring.monitoring).
            items.append(
                {
                    "Put": {
                        "TableName": self.monitoring_table,
                        "Item": pending_item(monitoring),
                        "ConditionExpression": "attribute_not_exists(record_id)",
                    }
                }
            )
        if application.person_key:
            items.append({"Update": self._person_update(application, "ADD")})
        if while_open:
            items.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": {"pk": _pk(application.cohort_id), "sk": {"S": COHORT}},
                        "ConditionExpression": "#status = :open",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": {":open": {"S": CohortStatus.OPEN.value}},
                    }
                }
            )
        try:
            self.db.transact_write_items(TransactItems=items)
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            codes = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            # Not recorded before (a redelivery would fail the first condition) and the cohort closed
            # (the condition check is the last item: keep it last).
            if (
                while_open
                and codes[-1:] == ["ConditionalCheckFailed"]
                and codes[:1] != ["ConditionalCheckFailed"]
            ):
                raise CohortClosedError(application.cohort_id) from None
            return False
        return True

    def _person_update(self, application: Application, action: str) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "Key": {"pk": _pk(application.cohort_id), "sk": {"S": PERSON + (application.person_key or "")}},
            "UpdateExpression": f"{action} application_ids :id"
            + (" SET expires_at = :expires" if action == "ADD" and self._expiry(application) else ""),
            "ExpressionAttributeValues": {
                ":id": {"SS": [application.application_id]},
                **(
                    {":expires": self._expiry(application)}
                    if action == "ADD" and self._expiry(application)
                    else {}
                ),
            },
        }

    def _expiry(self, application: Application) -> dict[str, str] | None:
        return self.retention.attribute(application.cohort_id).get("expires_at")

    def same_person(self, cohort_id: str, person_key: str) -> list[str]:
        item = self.db.get_item(
            TableName=self.table,
            Key={"pk": _pk(cohort_id), "sk": {"S": PERSON + person_key}},
            ConsistentRead=True,
        ).get("Item", {})
        return sorted(item.get("application_ids", {}).get("SS", []))

    def possible_duplicates(self, cohort_id: str) -> list[list[str]]:
        paginator = self.db.get_paginator("query")
        groups = [
            sorted(item.get("application_ids", {}).get("SS", []))
            for page in paginator.paginate(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={":pk": _pk(cohort_id), ":prefix": {"S": PERSON}},
                ConsistentRead=True,
            )
            for item in page.get("Items", [])
        ]
        return sorted(g for g in groups if len(g) > 1)

    def withdraw(self, application: Application, release: Sequence[Claim]) -> bool:
        key = {"pk": _pk(application.cohort_id), "sk": {"S": APPLICATION + application.application_id}}
        items: list[Any] = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": key,
                    "UpdateExpression": "SET #data = :data, withdrawn = :true",
                    "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(withdrawn)",
                    "ExpressionAttributeNames": {"#data": "data"},
                    "ExpressionAttributeValues": {
                        ":data": {"S": application.model_dump_json()},
                        ":true": {"BOOL": True},
                    },
                }
            }
        ]
        if application.person_key:
            items.append({"Update": self._person_update(application, "DELETE")})
        for claim in release:
            claim_key = {"pk": {"S": f"CLAIM#{claim.key}"}, "sk": {"S": "CLAIM"}}
            if claim.kind == "applicant":  # the person may apply again
                items.append({"Delete": {"TableName": self.table, "Key": claim_key}})
            else:  # a partner's reference stays used: a retry is refused, not let in again
                items.append(
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": claim_key,
                            "UpdateExpression": "SET withdrawn = :true",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": {":true": {"BOOL": True}},
                        }
                    }
                )
        try:
            self.db.transact_write_items(TransactItems=items)
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            codes = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
            if codes[:1] == ["ConditionalCheckFailed"]:
                return False
            raise
        return True

    def update_application(self, application: Application) -> None:
        self.db.update_item(
            TableName=self.table,
            Key={"pk": _pk(application.cohort_id), "sk": {"S": APPLICATION + application.application_id}},
            UpdateExpression="SET #data = :data",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#data": "data"},
            ExpressionAttributeValues={":data": {"S": application.model_dump_json()}},
        )

    def holds_place(self, cohort_id: str, application_id: str) -> bool:
        item = self.db.get_item(
            TableName=self.table,
            Key={"pk": _pk(cohort_id), "sk": {"S": PLACE + application_id}},
            ConsistentRead=True,
        ).get("Item")
        return item is not None

    def move_place(self, cohort_id: str, from_id: str, to_id: str | None) -> bool:
        """One transaction: the place item changes hands (or goes, and the count with it)."""
        items: list[Any] = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"pk": _pk(cohort_id), "sk": {"S": PLACE + from_id}},
                    "ConditionExpression": "attribute_exists(pk)",
                }
            }
        ]
        if to_id is None:
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": {"pk": _pk(cohort_id), "sk": {"S": COHORT}},
                        "UpdateExpression": "SET admitted_mentees = admitted_mentees - :one",
                        "ConditionExpression": "admitted_mentees > :zero",
                        "ExpressionAttributeValues": {":one": {"N": "1"}, ":zero": {"N": "0"}},
                    }
                }
            )
        else:
            place = {"pk": _pk(cohort_id), "sk": {"S": PLACE + to_id}, **self.retention.attribute(cohort_id)}
            items.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": place,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self.db.transact_write_items(TransactItems=items)
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            return False
        return True

    # ------------------------------------------------------------ next year's invitation list
    def record_next_year(self, choice: NextYearChoice) -> None:
        """NextYearList: the person's answer under their application, with the cohort's retention."""
        self.db.put_item(
            TableName=self.table,
            Item={
                "pk": _pk(choice.cohort_id),
                "sk": {"S": NEXT_YEAR + choice.application_id},
                "data": {"S": choice.model_dump_json()},
                **self.retention.attribute(choice.cohort_id),
            },
        )

    def next_year(self, cohort_id: str) -> list[NextYearChoice]:
        return [NextYearChoice.model_validate_json(data) for data in self._query(cohort_id, NEXT_YEAR)]

    def get_application(self, cohort_id: str, application_id: str) -> Application | None:
        item = self.db.get_item(
            TableName=self.table, Key={"pk": _pk(cohort_id), "sk": {"S": APPLICATION + application_id}}
        ).get("Item")
        return None if item is None else Application.model_validate_json(item["data"]["S"])

    def _query(self, cohort_id: str, prefix: str) -> Iterator[str]:
        return self._query_partition(_pk(cohort_id), prefix)

    def _query_partition(self, pk: dict[str, str], prefix: str) -> Iterator[str]:
        paginator = self.db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues={":pk": pk, ":prefix": {"S": prefix}},
            ConsistentRead=True,
        ):
            for item in page.get("Items", []):
                yield item["data"]["S"]

    def list_applications(self, cohort_id: str) -> list[Application]:
        """Every application of the cohort, read by several queries at once, each over its own
        range of application ids (a national cohort is tens of thousands of items in one partition:
        one query would read them a megabyte page at a time)."""
        ranges = _id_ranges(APPLICATION)

        def read(bounds: tuple[str, str]) -> list[Application]:
            return [Application.model_validate_json(d) for d in self._query_range(cohort_id, *bounds)]

        return [application for part in in_parallel(read, ranges) for application in part]

    def _query_range(self, cohort_id: str, low: str, high: str) -> Iterator[str]:
        """The data of the items with ``low <= sk < high`` (BETWEEN includes ``high``: left out)."""
        paginator = self.db.get_paginator("query")
        for page in paginator.paginate(
            TableName=self.table,
            KeyConditionExpression="pk = :pk AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues={":pk": _pk(cohort_id), ":low": {"S": low}, ":high": {"S": high}},
            ConsistentRead=True,
        ):
            for item in page.get("Items", []):
                if item["sk"]["S"] != high:
                    yield item["data"]["S"]

    def put_results(
        self, cohort_id: str, matches: Sequence[Match], unmatched: Sequence[UnmatchedMentee]
    ) -> None:
        expiry = self.retention.attribute(cohort_id)
        items = [
            {
                "pk": _pk(cohort_id),
                "sk": {"S": MATCH + m.mentee_id},
                "data": {"S": m.model_dump_json()},
                **expiry,
            }
            for m in matches
        ] + [
            {
                "pk": _pk(cohort_id),
                "sk": {"S": UNMATCHED + u.application_id},
                "data": {"S": u.model_dump_json()},
                **expiry,
            }
            for u in unmatched
        ]
        self._write_all([{"PutRequest": {"Item": item}} for item in items])

    def _write_all(self, writes: list[dict[str, Any]]) -> None:
        """Every write, 25 to a request, several requests at once; what DynamoDB leaves unprocessed
        (throttled) is sent again after a jittered, growing pause, until all is written."""

        def write(batch: list[dict[str, Any]]) -> None:
            requests: dict[str, Any] = {self.table: batch}
            for attempt in range(WRITE_ATTEMPTS):
                response = self.db.batch_write_item(RequestItems=requests)
                requests = dict(response.get("UnprocessedItems", {}))
                if not requests:
                    return
                time.sleep(random.uniform(0, min(2.0, 0.05 * 2**attempt)))  # noqa: S311 - jitter
            raise RuntimeError(f"DynamoDB left {len(requests[self.table])} writes unprocessed")

        in_parallel(write, [writes[start : start + 25] for start in range(0, len(writes), 25)])

    def replace_results(
        self, cohort_id: str, matches: Sequence[Match], unmatched: Sequence[UnmatchedMentee]
    ) -> None:
        keep = {MATCH + m.mentee_id for m in matches} | {UNMATCHED + u.application_id for u in unmatched}
        stale = [
            sk for prefix in (MATCH, UNMATCHED) for sk in self._keys(cohort_id, prefix) if sk not in keep
        ]
        self._write_all([{"DeleteRequest": {"Key": {"pk": _pk(cohort_id), "sk": {"S": sk}}}} for sk in stale])
        self.put_results(cohort_id, matches, unmatched)

    def _keys(self, cohort_id: str, prefix: str) -> list[str]:
        paginator = self.db.get_paginator("query")
        return [
            item["sk"]["S"]
            for page in paginator.paginate(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={":pk": _pk(cohort_id), ":prefix": {"S": prefix}},
                ProjectionExpression="sk",
                ConsistentRead=True,
            )
            for item in page.get("Items", [])
        ]

    def list_matches(self, cohort_id: str) -> list[Match]:
        return [Match.model_validate_json(d) for d in self._query(cohort_id, MATCH)]

    def list_unmatched(self, cohort_id: str) -> list[UnmatchedMentee]:
        return [UnmatchedMentee.model_validate_json(d) for d in self._query(cohort_id, UNMATCHED)]

    def get_match(self, cohort_id: str, mentee_id: str) -> Match | None:
        data = self._get(cohort_id, MATCH + mentee_id)
        return None if data is None else Match.model_validate_json(data)

    def get_unmatched(self, cohort_id: str, application_id: str) -> UnmatchedMentee | None:
        data = self._get(cohort_id, UNMATCHED + application_id)
        return None if data is None else UnmatchedMentee.model_validate_json(data)

    def _get(self, cohort_id: str, sk: str) -> str | None:
        item = self.db.get_item(TableName=self.table, Key={"pk": _pk(cohort_id), "sk": {"S": sk}}).get("Item")
        return None if item is None else str(item["data"]["S"])


class DynamoSubmissionClaims(_Table):
    """SubmissionClaims in the Applications table: one item a claim, written in one transaction."""

    def claim(self, claims: Sequence[Claim], body_hash: str, submission_id: str, cohort_id: str) -> None:
        values = {":hash": {"S": body_hash}, ":id": {"S": submission_id}}
        try:
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": {"S": f"CLAIM#{claim.key}"},
                                "sk": {"S": "CLAIM"},
                                "body_hash": values[":hash"],
                                "submission_id": values[":id"],
                                "cohort_id": {"S": cohort_id},
                                **self.retention.attribute(cohort_id),
                            },
                            # A retry of the same application finds its own claim and goes on,
                            # unless the coordinator withdrew that application.
                            "ConditionExpression": "attribute_not_exists(pk) OR (body_hash = :hash "
                            "AND submission_id = :id AND attribute_not_exists(withdrawn))",
                            "ExpressionAttributeValues": values,
                        }
                    }
                    for claim in claims
                ]
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            reasons = error.response.get("CancellationReasons", [])
            held = [
                c for c, r in zip(claims, reasons, strict=False) if r.get("Code") == "ConditionalCheckFailed"
            ]
            first = held[0] if held else claims[0]
            found = self.find(first)
            raise DuplicateSubmissionError(
                "withdrawn" if found is not None and found.withdrawn else first.kind
            ) from None

    def find(self, claim: Claim) -> ClaimedSubmission | None:
        item = self.db.get_item(
            TableName=self.table,
            Key={"pk": {"S": f"CLAIM#{claim.key}"}, "sk": {"S": "CLAIM"}},
            ConsistentRead=True,
        ).get("Item")
        if item is None:
            return None
        return ClaimedSubmission(
            submission_id=item["submission_id"]["S"],
            cohort_id=item["cohort_id"]["S"],
            withdrawn=item.get("withdrawn", {}).get("BOOL", False),
        )


class DynamoHeldSubmissions(_Table):
    """HeldSubmissions in the Applications table: one item a held application, keyed by its token's
    hash. Its TTL is the end of the confirmation window; once confirmed, the cohort's retention."""

    def _key(self, token_hash: str) -> dict[str, Any]:
        return {"pk": {"S": HELD + token_hash}, "sk": {"S": "HELD"}}

    def _mark_key(self, held: HeldSubmission) -> dict[str, Any]:
        return {"pk": _pk(held.cohort_id), "sk": {"S": HELD + held.submission_id}}

    def hold(self, held: HeldSubmission) -> None:
        mark = held.mark()
        names = {"#role": "role"}
        values: dict[str, Any] = {":role": {"S": mark.role.value}, ":by": {"S": mark.confirm_by.isoformat()}}
        sets = ["#role = :role", "confirm_by = :by"]
        if mark.institution is not None:
            sets.append("institution = :institution")
            values[":institution"] = {"S": mark.institution}
        expiry = self.retention.attribute(held.cohort_id)
        if expiry:
            sets.append("expires_at = :expires")
            values[":expires"] = expiry["expires_at"]
        self.db.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            **self._key(held.token_hash),
                            "data": {"S": held.model_dump_json(exclude={"confirmed_at"})},
                            "cohort_id": {"S": held.cohort_id},
                            "expires_at": {"N": str(int(held.confirm_by.timestamp()))},
                        },
                        # A random token never repeats; the condition makes sure of it.
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    # The cohort's mark of the submission, counted once however often it is sent
                    # (the same body is the same id); sent again, it waits for the new link's time,
                    # and one confirmed stays confirmed.
                    "Update": {
                        "TableName": self.table,
                        "Key": self._mark_key(held),
                        "UpdateExpression": "SET " + ", ".join(sets),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                },
            ]
        )

    def find(self, token_hash: str) -> HeldSubmission | None:
        item = self.db.get_item(TableName=self.table, Key=self._key(token_hash), ConsistentRead=True).get(
            "Item"
        )
        return None if item is None else _held(item)

    def start_confirming(self, token_hash: str, at: datetime) -> HeldSubmission | None:
        try:
            item = self.db.update_item(
                TableName=self.table,
                Key=self._key(token_hash),
                UpdateExpression="SET confirmed_at = :at",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(confirmed_at)",
                ExpressionAttributeValues={":at": {"S": at.isoformat()}},
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            return self.find(token_hash)  # confirmed first by another request: its time stands
        return _held(item)

    def finish(self, held: HeldSubmission) -> None:
        done = held.model_copy(update={"done": True, "message": None})
        expiry = self.retention.attribute(held.cohort_id)
        self.db.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": self._key(held.token_hash),
                        "UpdateExpression": "SET #data = :data"
                        + (", expires_at = :expires" if expiry else ""),
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeNames": {"#data": "data"},
                        "ExpressionAttributeValues": {
                            ":data": {"S": done.model_dump_json(exclude={"confirmed_at"})},
                            **({":expires": expiry["expires_at"]} if expiry else {}),
                        },
                    }
                },
                {
                    # Counted as confirmed, once, however often a confirmation is finished.
                    "Update": {
                        "TableName": self.table,
                        "Key": self._mark_key(held),
                        "UpdateExpression": "SET confirmed = :yes",
                        "ExpressionAttributeValues": {":yes": {"BOOL": True}},
                    }
                },
            ]
        )

    def marks(self, cohort_id: str) -> list[HeldMark]:
        paginator = self.db.get_paginator("query")
        return [
            HeldMark(
                role=Role(item["role"]["S"]),
                institution=item.get("institution", {}).get("S"),
                confirm_by=datetime.fromisoformat(item["confirm_by"]["S"]),
                confirmed=item.get("confirmed", {}).get("BOOL", False),
            )
            for page in paginator.paginate(
                TableName=self.table,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues={":pk": _pk(cohort_id), ":prefix": {"S": HELD}},
                ProjectionExpression="#role, institution, confirm_by, confirmed",
                ExpressionAttributeNames={"#role": "role"},
            )
            for item in page.get("Items", [])
            # A confirmation finished for an application held before marks were kept marks nothing
            # held: it has no role (and is confirmed).
            if "role" in item
        ]


def _held(item: dict[str, Any]) -> HeldSubmission:
    held = HeldSubmission.model_validate_json(item["data"]["S"])
    confirmed = item.get("confirmed_at", {}).get("S")
    return held.model_copy(update={"confirmed_at": datetime.fromisoformat(confirmed) if confirmed else None})


class DynamoEmailOutbox(_Table):
    """EmailOutbox in the Applications table, beside the cohort's other items (deleted with them)."""

    def _key(self, cohort_id: str, key: str) -> dict[str, Any]:
        return {"pk": _pk(cohort_id), "sk": {"S": f"OUTBOX#{key}"}}

    def reserve(self, cohort_id: str, key: str, now: datetime) -> OutboxEntry:
        expiry = self.retention.attribute(cohort_id)
        try:
            self.db.update_item(
                TableName=self.table,
                Key=self._key(cohort_id, key),
                UpdateExpression="SET #status = :sending, since = :now"
                + (", expires_at = :expires" if expiry else ""),
                ConditionExpression="attribute_not_exists(pk) OR #status = :failed",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":sending": {"S": "sending"},
                    ":failed": {"S": "failed"},
                    ":now": {"S": now.isoformat()},
                    **({":expires": expiry["expires_at"]} if expiry else {}),
                },
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            item = self.db.get_item(TableName=self.table, Key=self._key(cohort_id, key), ConsistentRead=True)
            found = item.get("Item", {})
            status = found.get("status", {}).get("S", "sending")
            since = found.get("since", {}).get("S")
            return OutboxEntry(
                status="sent" if status == "sent" else "sending",
                since=datetime.fromisoformat(since) if since else None,
                message_id=found.get("message_id", {}).get("S"),
            )
        return OutboxEntry(status="new")

    def mark_sent(self, cohort_id: str, key: str, message_id: str, now: datetime) -> None:
        self.db.update_item(
            TableName=self.table,
            Key=self._key(cohort_id, key),
            UpdateExpression="SET #status = :sent, message_id = :id, sent_at = :now",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={
                ":sent": {"S": "sent"},
                ":id": {"S": message_id},
                ":now": {"S": now.isoformat()},
            },
        )

    def release(self, cohort_id: str, key: str) -> None:
        self.db.update_item(
            TableName=self.table,
            Key=self._key(cohort_id, key),
            UpdateExpression="SET #status = :failed",
            ConditionExpression="#status = :sending",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":failed": {"S": "failed"}, ":sending": {"S": "sending"}},
        )


STAFF = {"S": "STAFF"}
AUDIT = {"S": "AUDIT"}


class DynamoStaff(_Table):
    """StaffDirectory in the Applications table: one partition of console users, keyed by subject.

    Kept apart from any cohort, so no cohort's retention deletes them."""

    def get_staff(self, user_id: str) -> StaffMember | None:
        item = self.db.get_item(
            TableName=self.table, Key={"pk": STAFF, "sk": {"S": f"USER#{user_id}"}}, ConsistentRead=True
        ).get("Item")
        return None if item is None else StaffMember.model_validate_json(item["data"]["S"])

    def put_staff(self, member: StaffMember) -> None:
        self.db.put_item(
            TableName=self.table,
            Item={
                "pk": STAFF,
                "sk": {"S": f"USER#{member.user_id}"},
                "data": {"S": member.model_dump_json()},
            },
        )

    def list_staff(self) -> list[StaffMember]:
        paginator = self.db.get_paginator("query")
        return [
            StaffMember.model_validate_json(item["data"]["S"])
            for page in paginator.paginate(
                TableName=self.table,
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": STAFF},
                ConsistentRead=True,
            )
            for item in page.get("Items", [])
        ]


class DynamoAuditLog(_Table):
    """AuditLog in the Applications table: one partition, sorted by time (people act rarely, so one
    partition's write rate is ample). Each entry expires after the retention period, as the
    personal data it refers to does."""

    def record(self, entry: AuditEntry) -> None:
        item: dict[str, Any] = {
            "pk": AUDIT,
            "sk": {"S": f"{entry.at.isoformat()}#{new_record_id()}"},
            "data": {"S": entry.model_dump_json()},
        }
        if self.retention.days is not None:
            expires = entry.at + timedelta(days=self.retention.days)
            item["expires_at"] = {"N": str(int(expires.timestamp()))}
        self.db.put_item(TableName=self.table, Item=item)

    def entries(self, limit: int = 200) -> list[AuditEntry]:
        response = self.db.query(
            TableName=self.table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": AUDIT},
            ScanIndexForward=False,
            Limit=limit,
            ConsistentRead=True,
        )
        return [AuditEntry.model_validate_json(item["data"]["S"]) for item in response.get("Items", [])]


class _Batches(_Table, Generic[P, R]):
    """Answers of one kind in the Monitoring table: pending their batch (sealed, under
    ``pending_prefix``) and stored (in batches, under ``stored_prefix``): the store
    ``mentoring.monitoring`` settles (``BatchStore``)."""

    pending_prefix: str

    def _scan(
        self, expression: str, values: dict[str, Any], projection: str | None = None
    ) -> Iterator[dict[str, Any]]:
        paginator = self.db.get_paginator("scan")
        arguments: dict[str, Any] = {
            "TableName": self.table,
            "FilterExpression": expression,
            "ExpressionAttributeValues": values,
            "ConsistentRead": True,
        }
        if projection:
            arguments["ProjectionExpression"] = projection
        for page in paginator.paginate(**arguments):
            yield from page.get("Items", [])

    def _pending(self, item: dict[str, Any]) -> P:
        raise NotImplementedError

    def _stored_item(self, record: R) -> dict[str, Any]:
        raise NotImplementedError

    def pending(self, cohort_id: str) -> list[P]:
        items = self._scan(
            "cohort_id = :c AND begins_with(record_id, :p)",
            {":c": {"S": cohort_id}, ":p": {"S": self.pending_prefix}},
        )
        return [self._pending(item) for item in items]

    def pending_cohorts(self) -> list[str]:
        items = self._scan(
            "begins_with(record_id, :p)", {":p": {"S": self.pending_prefix}}, projection="cohort_id"
        )
        return sorted({item["cohort_id"]["S"] for item in items})

    def discard(self, pending: Sequence[str]) -> None:
        for start in range(0, len(pending), TRANSACTION_ITEMS):
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": {"record_id": {"S": self.pending_prefix + record_id}},
                        }
                    }
                    for record_id in pending[start : start + TRANSACTION_ITEMS]
                ]
            )

    def move_batch(self, cohort_id: str, retire: Sequence[str], write: Sequence[R]) -> None:
        items: list[Any] = [
            {
                "Delete": {
                    "TableName": self.table,
                    "Key": {"record_id": {"S": self.pending_prefix + record_id}},
                    "ConditionExpression": "attribute_exists(record_id)",
                }
            }
            for record_id in retire
        ] + [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": self._stored_item(record),
                    "ConditionExpression": "attribute_not_exists(record_id)",
                }
            }
            for record in write
        ]
        self.db.transact_write_items(TransactItems=items)


class DynamoMonitoring(_Batches[PendingAnswers, MonitoringRecord]):
    """The Monitoring table's monitoring answers: pending their batch (sealed), and stored ones."""

    pending_prefix = PENDING

    def _pending(self, item: dict[str, Any]) -> PendingAnswers:
        return _pending(item)

    def _stored_item(self, record: MonitoringRecord) -> dict[str, Any]:
        return monitoring_item(record)

    def list_records(
        self, cohort_id: str | None = None, scheme_id: str | None = None
    ) -> list[MonitoringRecord]:
        """A cohort's stored records, or a scheme's; never a pending one, nor an evaluation's (a
        full read: the table is small and the report rare; the report counts them and never
        returns one)."""
        field, value = ("cohort_id", cohort_id) if cohort_id is not None else ("scheme_id", scheme_id or "")
        items = self._scan(
            f"{field} = :value AND NOT begins_with(record_id, :p) AND NOT begins_with(record_id, :e)",
            {":value": {"S": value}, ":p": {"S": PENDING}, ":e": {"S": EVALUATION}},
        )
        return [_monitoring_record(item) for item in items]


class DynamoEvaluation(_Batches[PendingEvaluation, EvaluationRecord]):
    """The Monitoring table's evaluation answers (``EvaluationStore``): pending their batch (sealed,
    held by the participant page) and stored ones, under keys of their own, so that neither the
    monitoring report nor its settling ever reads one."""

    pending_prefix = EVALUATION_PENDING

    def _pending(self, item: dict[str, Any]) -> PendingEvaluation:
        return PendingEvaluation(
            record_id=item["record_id"]["S"].removeprefix(EVALUATION_PENDING),
            cohort_id=item["cohort_id"]["S"],
            scheme_id=item["scheme_id"]["S"],
            role=Role(item["role"]["S"]),
            sealed=SealedAnswers(ciphertext=item["sealed"]["S"]),
        )

    def _stored_item(self, record: EvaluationRecord) -> dict[str, Any]:
        return {
            "record_id": {"S": EVALUATION + record.record_id},
            "cohort_id": {"S": record.cohort_id},
            "scheme_id": {"S": record.scheme_id},
            "role": {"NULL": True} if record.role is None else {"S": record.role.value},
            "record_key": {"N": str(record.record_key)},
            "answers": {"M": {question: {"S": value} for question, value in record.answers.items()}},
        }

    def __init__(
        self,
        table: str,
        dynamodb: DynamoDBClient | None = None,
        applications_table: str | None = None,
        retention_days: int | None = None,
    ) -> None:
        super().__init__(table, dynamodb)
        self.applications_table = applications_table
        # "Answered" is kept in the Applications table, with the cohort's retention.
        self.identity_retention = Retention(applications_table or "", retention_days, dynamodb)

    def hold(self, pending: PendingEvaluation, answered_by: str | None = None) -> None:
        """One person's sealed answers, pending: the random key, the cohort, the role, no time. With
        ``answered_by``, in the same transaction, that the application answered (the Applications
        table: identity's side, no answer), only if it had not: else ``AlreadyAnsweredError``."""
        items: list[Any] = [
            {
                "Put": {
                    "TableName": self.table,
                    "Item": {
                        "record_id": {"S": EVALUATION_PENDING + pending.record_id},
                        "cohort_id": {"S": pending.cohort_id},
                        "scheme_id": {"S": pending.scheme_id},
                        "role": {"S": pending.role.value},
                        "sealed": {"S": pending.sealed.ciphertext},
                    },
                    "ConditionExpression": "attribute_not_exists(record_id)",
                }
            }
        ]
        if answered_by is not None:
            if self.applications_table is None:
                raise RuntimeError("this store was built without the applications table")
            items.append(
                {
                    "Put": {
                        "TableName": self.applications_table,
                        "Item": {
                            "pk": _pk(pending.cohort_id),
                            "sk": {"S": EVALUATED + answered_by},
                            **self.identity_retention.attribute(pending.cohort_id),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        try:
            self.db.transact_write_items(TransactItems=items)
        except ClientError as error:
            if answered_by is not None and _conditional_failed(error):
                raise AlreadyAnsweredError(answered_by) from None
            raise

    def answered(self, cohort_id: str, application_id: str) -> bool:
        """Whether the application has answered its cohort's survey (never what)."""
        if self.applications_table is None:
            raise RuntimeError("this store was built without the applications table")
        key = {"pk": _pk(cohort_id), "sk": {"S": EVALUATED + application_id}}
        return "Item" in self.db.get_item(TableName=self.applications_table, Key=key, ConsistentRead=True)

    def list_records(
        self, cohort_id: str | None = None, scheme_id: str | None = None
    ) -> list[EvaluationRecord]:
        """A cohort's stored evaluation records, or a scheme's; never a pending one."""
        field, value = ("cohort_id", cohort_id) if cohort_id is not None else ("scheme_id", scheme_id or "")
        items = self._scan(
            f"{field} = :value AND begins_with(record_id, :e)",
            {":value": {"S": value}, ":e": {"S": EVALUATION}},
        )
        return [
            EvaluationRecord(
                record_id=item["record_id"]["S"].removeprefix(EVALUATION),
                cohort_id=item["cohort_id"]["S"],
                scheme_id=item["scheme_id"]["S"],
                role=Role(item["role"]["S"]) if "S" in item["role"] else None,
                answers={question: v["S"] for question, v in item["answers"]["M"].items()},
                record_key=int(item["record_key"]["N"]),
            )
            for item in items
        ]


def pending_item(pending: PendingAnswers) -> dict[str, Any]:
    """A pending answer: the random key, the reporting group, and the answers still sealed."""
    return {
        "record_id": {"S": PENDING + pending.record_id},
        "cohort_id": {"S": pending.cohort_id},
        "scheme_id": {"S": pending.scheme_id},
        "role": {"S": pending.role.value},
        "eligible": {"BOOL": pending.eligible},
        "sealed": {"S": pending.sealed.ciphertext},
    }


def _pending(item: dict[str, Any]) -> PendingAnswers:
    return PendingAnswers(
        record_id=item["record_id"]["S"].removeprefix(PENDING),
        cohort_id=item["cohort_id"]["S"],
        scheme_id=item["scheme_id"]["S"],
        role=Role(item["role"]["S"]),
        eligible=item["eligible"]["BOOL"],
        sealed=SealedAnswers(ciphertext=item["sealed"]["S"]),
    )


def monitoring_item(record: MonitoringRecord) -> dict[str, Any]:
    """A stored record: the random key, the reporting group (null where not recorded, to keep every
    group at least k), the outcome, the answers and the record key the report's rounding uses."""
    return {
        "record_id": {"S": record.record_id},
        "cohort_id": {"S": record.cohort_id},
        "scheme_id": {"S": record.scheme_id},
        "role": {"NULL": True} if record.role is None else {"S": record.role.value},
        "eligible": {"NULL": True} if record.eligible is None else {"BOOL": record.eligible},
        "record_key": {"N": str(record.record_key)},
        **{name: {"S": str(value)} for name, value in record.answers.model_dump().items()},
    }


def _monitoring_record(item: dict[str, Any]) -> MonitoringRecord:
    answers = {k: v["S"] for k, v in item.items() if k in MonitoringAnswers.model_fields}
    return MonitoringRecord(
        record_id=item["record_id"]["S"],
        cohort_id=item["cohort_id"]["S"],
        scheme_id=item["scheme_id"]["S"],
        role=Role(item["role"]["S"]) if "S" in item["role"] else None,
        eligible=item["eligible"].get("BOOL"),
        answers=MonitoringAnswers.model_validate(answers),
        record_key=int(item["record_key"]["N"]),
    )


LINK = "LINK#"
MEETING = "MEETING#"
ATTENDED = "ATTENDED#"
ENDED = "ENDED#"
HELP = "HELP#"


class DynamoProgramme(DynamoApplications):
    """ProgrammeStore in the Applications table: the programme's records in the cohort's partition,
    each with the cohort's retention; a personal link's hash in a partition of its own.

    A pair's meeting is one item a day (``MEETING#<mentee>#<mentor>#<day>``), so the same meeting
    recorded by both is one. A match ended early carries ``ended`` (the mentor it ended with) until
    the coordinator re-matches the mentee; its ``ENDED#`` record stays as the pair's history.
    """

    def _put(self, cohort_id: str, sk: str, data: str, condition: str | None = None) -> bool:
        params: dict[str, Any] = {
            "TableName": self.table,
            "Item": {
                "pk": _pk(cohort_id),
                "sk": {"S": sk},
                "data": {"S": data},
                **self.retention.attribute(cohort_id),
            },
        }
        if condition is not None:
            params["ConditionExpression"] = condition
        try:
            self.db.put_item(**params)
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            return False
        return True

    def register_link(self, link: ParticipantLink) -> None:
        retention = self.retention.attribute(link.cohort_id)
        expires = int(link.expires_at.timestamp())
        if retention:
            expires = min(expires, int(retention["expires_at"]["N"]))
        self.db.put_item(
            TableName=self.table,
            Item={
                "pk": {"S": LINK + link.token_hash},
                "sk": {"S": "LINK"},
                "data": {"S": link.model_dump_json()},
                "expires_at": {"N": str(expires)},
            },
        )

    def find_link(self, token_hash: str) -> ParticipantLink | None:
        item = self.db.get_item(
            TableName=self.table,
            Key={"pk": {"S": LINK + token_hash}, "sk": {"S": "LINK"}},
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else ParticipantLink.model_validate_json(item["data"]["S"])

    def record_meeting(self, meeting: Meeting) -> bool:
        sk = f"{MEETING}{meeting.mentee_id}#{meeting.mentor_id}#{meeting.on.isoformat()}"
        if self._put(meeting.cohort_id, sk, meeting.model_dump_json(), "attribute_not_exists(pk)"):
            return True
        self._put(meeting.cohort_id, sk, meeting.model_dump_json())
        return False

    def meetings(self, cohort_id: str) -> list[Meeting]:
        return [Meeting.model_validate_json(d) for d in self._query(cohort_id, MEETING)]

    def confirm_attendance(self, attendance: TrainingAttendance) -> bool:
        sk = f"{ATTENDED}{attendance.application_id}#{attendance.session_id}"
        return self._put(attendance.cohort_id, sk, attendance.model_dump_json(), "attribute_not_exists(pk)")

    def attendance(self, cohort_id: str) -> list[TrainingAttendance]:
        return [TrainingAttendance.model_validate_json(d) for d in self._query(cohort_id, ATTENDED)]

    def end_partnership(self, end: PartnershipEnd) -> bool:
        key = {"pk": _pk(end.cohort_id), "sk": {"S": MATCH + end.mentee_id}}
        item = self.db.get_item(TableName=self.table, Key=key, ConsistentRead=True).get("Item")
        if item is None or "ended" in item:
            return False
        if Match.model_validate_json(item["data"]["S"]).mentor_id != end.mentor_id:
            return False
        try:
            self.db.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": key,
                            "UpdateExpression": "SET ended = :mentor",
                            # Still the pair that was read: not ended, not re-matched since.
                            "ConditionExpression": "attribute_not_exists(ended) AND #data = :data",
                            "ExpressionAttributeNames": {"#data": "data"},
                            "ExpressionAttributeValues": {
                                ":mentor": {"S": end.mentor_id},
                                ":data": item["data"],
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": {
                                "pk": _pk(end.cohort_id),
                                "sk": {"S": f"{ENDED}{end.mentee_id}#{end.mentor_id}"},
                                "data": {"S": end.model_dump_json()},
                                **self.retention.attribute(end.cohort_id),
                            },
                        }
                    },
                ]
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            return False
        return True

    def ended(self, cohort_id: str) -> list[PartnershipEnd]:
        return [PartnershipEnd.model_validate_json(d) for d in self._query(cohort_id, ENDED)]

    def rematch(self, match: Match) -> bool:
        try:
            self.db.update_item(
                TableName=self.table,
                Key={"pk": _pk(match.cohort_id), "sk": {"S": MATCH + match.mentee_id}},
                UpdateExpression="SET #data = :data REMOVE ended",
                ConditionExpression="attribute_exists(ended)",
                ExpressionAttributeNames={"#data": "data"},
                ExpressionAttributeValues={":data": {"S": match.model_dump_json()}},
            )
        except ClientError as error:
            if not _conditional_failed(error):
                raise
            return False
        return True

    def ask_for_help(self, request: HelpRequest) -> None:
        sk = f"{HELP}{request.application_id}#{request.request_id}"
        self._put(request.cohort_id, sk, request.model_dump_json())

    def help_requests(self, cohort_id: str) -> list[HelpRequest]:
        return [HelpRequest.model_validate_json(d) for d in self._query(cohort_id, HELP)]
