"""Console accounts an engineer creates: the first administrator of a deployed stack (who then
invites everyone else from the console), and the demo's people on the local stack.

    python -m infrastructure.staff --stack NAME --email you@example.ac.uk --name "Your Name"

creates the administrator in the stack's user pool with a temporary password (printed here, once;
Cognito sends nothing) and their staff record; they choose their own password at first sign-in.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import boto3
from mentoring.adapters.dynamodb import DynamoStaff
from mentoring.console.actions import temporary_password
from mentoring.models import StaffMember, StaffRole, utcnow


def add_staff_member(
    idp: Any,
    dynamodb: Any,
    pool_id: str,
    table: str,
    *,
    email: str,
    name: str,
    role: StaffRole,
    password: str,
    permanent: bool = True,
    schemes: tuple[str, ...] = (),
    institution: str | None = None,
) -> StaffMember:
    """An account and its staff record; with ``permanent`` the password is the person's own."""
    user = idp.admin_create_user(
        UserPoolId=pool_id,
        Username=email,
        TemporaryPassword=password,
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": email},
            {"Name": "email_verified", "Value": "true"},
            {"Name": "name", "Value": name},
        ],
    )["User"]
    if permanent:
        idp.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    sub = next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")
    member = StaffMember(
        user_id=sub,
        email=email,
        name=name,
        role=role,
        schemes=list(schemes),
        institution=institution,
        invited_by="engineer",
        invited_at=utcnow(),
    )
    DynamoStaff(table, dynamodb).put_staff(member)
    return member


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infrastructure.staff", description=__doc__)
    parser.add_argument("--stack", required=True, help="the deployed stack's name")
    parser.add_argument("--email", required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    outputs = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    resources = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in boto3.client("cloudformation").describe_stack_resources(StackName=args.stack)[
            "StackResources"
        ]
    }
    password = temporary_password()
    add_staff_member(
        boto3.client("cognito-idp"),
        boto3.client("dynamodb"),
        resources["ConsoleUserPool"],
        resources["ApplicationsTable"],
        email=args.email,
        name=args.name,
        role=StaffRole.ADMINISTRATOR,
        password=password,
        permanent=False,
    )
    console = next(
        (o["OutputValue"] for o in outputs.get("Outputs", []) if o["OutputKey"] == "ConsoleUrl"), ""
    )
    print(f"Administrator {args.email} created. Sign in at {console}/sign-in")
    print(f"with this temporary password (shown once; valid 7 days): {password}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
