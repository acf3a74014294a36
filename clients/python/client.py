"""registry-gateway from Python with grpcio: every RPC of the contract over mutual TLS, the rich
error details read (BadRequest, RetryInfo, ErrorInfo, PreconditionFailure), and a call that
failed with RetryInfo tried again after the delay the gateway asked for.

The stubs are generated from the gateway's proto/ when the program starts (grpc_tools.protoc,
into a temporary directory). Environment: REGGW_ADDR (host:port), REGGW_CA (the CA of the
gateway's certificate), REGGW_CERT and REGGW_KEY (this client system's certificate and key),
REGGW_PROTO (the proto/ directory; default ../../proto). Exit status 0 when every check passed.
"""

import importlib
import os
import sys
import tempfile
import time

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.environ.get("REGGW_PROTO", os.path.join(HERE, "..", "..", "proto"))
DETAILS = {
    "BadRequest": error_details_pb2.BadRequest,
    "RetryInfo": error_details_pb2.RetryInfo,
    "ErrorInfo": error_details_pb2.ErrorInfo,
    "PreconditionFailure": error_details_pb2.PreconditionFailure,
}


def generate():
    """Generates the stubs of proto/registry_gateway/v1 and imports them."""
    out = tempfile.mkdtemp(prefix="reggw-stubs-")
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    files = [os.path.join(PROTO, "registry_gateway", "v1", f) for f in ("gateway.proto", "admin.proto")]
    args = ["protoc", f"-I{PROTO}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *files]
    if protoc.main(args) != 0:
        sys.exit("protoc failed on " + PROTO)
    sys.path.insert(0, out)  # google.api.* come from googleapis-common-protos
    mod = lambda name: importlib.import_module("registry_gateway.v1." + name)
    return mod("gateway_pb2"), mod("gateway_pb2_grpc"), mod("admin_pb2"), mod("admin_pb2_grpc")


def rich_details(err):
    """The google.rpc.Status details of a failed call, by type name."""
    found = {}
    status = rpc_status.from_call(err)
    for any_ in status.details if status else []:
        name = any_.type_url.split("/")[-1].replace("google.rpc.", "")
        if name in DETAILS:
            message = DETAILS[name]()
            any_.Unpack(message)
            found[name] = message
    return found


def with_retry(call, request, attempts=3):
    """Calls; on a failure carrying RetryInfo, waits the delay it names and tries again."""
    retries = []
    for attempt in range(1, attempts + 1):
        try:
            return call(request, timeout=10), retries
        except grpc.RpcError as err:
            details = rich_details(err)
            if "RetryInfo" not in details or attempt == attempts:
                raise
            delay = details["RetryInfo"].retry_delay.ToTimedelta().total_seconds()
            retries.append((err.code(), delay, details))
            print(f"  {err.code().name} ({err.details()}); RetryInfo says {delay} s: waiting")
            time.sleep(delay)
    raise AssertionError("unreachable")


failed = 0


def check(ok, what):
    global failed
    if not ok:
        failed += 1
        print("FAIL " + what)


def expect_error(call, request, code):
    try:
        call(request, timeout=10)
    except grpc.RpcError as err:
        check(err.code() == code, f"expected {code.name}, got {err.code().name}: {err.details()}")
        return err, rich_details(err)
    raise AssertionError(f"expected {code.name}, the call succeeded")


def main():
    gw, gw_grpc, adm, adm_grpc = generate()
    read = lambda name: open(os.environ[name], "rb").read()
    credentials = grpc.ssl_channel_credentials(read("REGGW_CA"), read("REGGW_KEY"), read("REGGW_CERT"))
    channel = grpc.secure_channel(os.environ.get("REGGW_ADDR", "127.0.0.1:50051"), credentials)
    gateway, admin = gw_grpc.RegistryGatewayServiceStub(channel), adm_grpc.GatewayAdminServiceStub(channel)
    student = "060926515016"

    # GatewayAdminService/InvalidatePerson, then EPVO: the runner has taken EPVO down and brings
    # it back once the gateway has tried it, so the first answer is UNAVAILABLE with RetryInfo.
    admin.InvalidatePerson(adm.InvalidatePersonRequest(iin=student), timeout=10)
    print("ok   InvalidatePerson")
    studies, retries = with_retry(gateway.GetHigherEducation, gw.GetHigherEducationRequest(iin=student))
    check(len(studies.studies) > 0, "GetHigherEducation: studies")
    if os.environ.get("EXPECT_RETRY") == "1":
        check(len(retries) == 1 and retries[0][0] == grpc.StatusCode.UNAVAILABLE, "one UNAVAILABLE retried")
        info = retries[0][2].get("ErrorInfo") if retries else None
        check(info is not None and info.metadata["registry"] == "epvo", f"ErrorInfo names epvo: {info}")
        check(bool(retries) and retries[0][1] >= 1.0, "RetryInfo delay honoured")
    print(f"ok   GetHigherEducation (after {len(retries)} retry, RetryInfo and ErrorInfo read)")

    person = gateway.GetPerson(gw.GetPersonRequest(iin="790505361139", consent_token="kdp-demo-790505361139"), timeout=10)
    check(gw.CapacityStatus.Name(person.person.capacity.status) == "CAPACITY_STATUS_INCAPABLE", "GetPerson: incapable")
    print("ok   GetPerson")
    _, consent = expect_error(gateway.GetPerson, gw.GetPersonRequest(iin="790505361139"), grpc.StatusCode.FAILED_PRECONDITION)
    violations = consent["PreconditionFailure"].violations if "PreconditionFailure" in consent else []
    check(bool(violations) and violations[0].type == "CONSENT_REQUIRED" and violations[0].subject == "consent_token",
          f"PreconditionFailure: {consent}")
    print("ok   GetPerson without consent: FAILED_PRECONDITION, PreconditionFailure CONSENT_REQUIRED")

    acts = gateway.GetCivilActs(gw.GetCivilActsRequest(iin="161016620441"), timeout=10)
    check(len(acts.birth_acts) > 0, "GetCivilActs: birth acts")
    print("ok   GetCivilActs")
    social = gateway.GetSocialStatus(gw.GetSocialStatusRequest(iin="790505361139"), timeout=10)
    check(len(social.guardianships) > 0, "GetSocialStatus: guardianship")
    print("ok   GetSocialStatus")
    school_enrolment(gw, gateway)

    service = gw.Service.Value("SERVICE_REGISTRATION_AT_RESIDENCE")
    owner = gateway.CheckOwner(gw.CheckOwnerRequest(owner_iin="860314310210", service=service), timeout=10)
    check(gw.Outcome.Name(owner.outcome) == "OUTCOME_ONLINE" and owner.order_item == "5", "CheckOwner: online")
    print("ok   CheckOwner: OUTCOME_ONLINE")
    _, bad = expect_error(gateway.CheckOwner, gw.CheckOwnerRequest(owner_iin="860314310211", service=service),
                          grpc.StatusCode.INVALID_ARGUMENT)
    fields = bad["BadRequest"].field_violations if "BadRequest" in bad else []
    check(bool(fields) and fields[0].field == "owner_iin", f"BadRequest: {bad}")
    print("ok   CheckOwner with a wrong check digit: INVALID_ARGUMENT, BadRequest on owner_iin")

    owners = [gw.DwellingOwner(iin=i) for i in ("880702431094", "851120331100", "161016620441")]
    dwelling = gateway.CheckDwelling(
        gw.CheckDwellingRequest(owners=owners, service=service, applicant_iin="880702431094"), timeout=10)
    check(gw.Outcome.Name(dwelling.outcome) == "OUTCOME_OPERATIONAL_HALL" and dwelling.representative_confirmed,
          "CheckDwelling: hall")
    print("ok   CheckDwelling: OUTCOME_OPERATIONAL_HALL")

    status = admin.GetRegistryStatus(adm.GetRegistryStatusRequest(), timeout=10)
    check(len(status.registries) == 5, f"GetRegistryStatus: {len(status.registries)} registries")
    print("ok   GetRegistryStatus")
    channel.close()


def school_enrolment(gw, gateway):
    """NOBD: an answer, or NOT_FOUND with its ErrorInfo (a pupil unknown to NOBD)."""
    try:
        gateway.GetSchoolEnrolment(gw.GetSchoolEnrolmentRequest(iin="161016620441"), timeout=10)
        print("ok   GetSchoolEnrolment")
    except grpc.RpcError as err:
        info = rich_details(err).get("ErrorInfo")
        check(err.code() == grpc.StatusCode.NOT_FOUND and info is not None and info.metadata["registry"] == "nobd",
              f"GetSchoolEnrolment: {err.code().name} {err.details()}")
        print("ok   GetSchoolEnrolment: NOT_FOUND, ErrorInfo names nobd")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a failed call or check: say which, exit 1
        print(f"python client: {type(e).__name__}: {e}")
        sys.exit(1)
    print(f"python client: {failed} check(s) failed" if failed else "python client: every RPC passed")
    sys.exit(1 if failed else 0)
