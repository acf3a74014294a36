### registry-gateway: the gateway's own texts (reasons, notes, representation, the dwelling's
### reasons), English. The order's own words (the act's name, its items, the warning) are the
### act's texts: joint-order-801-500.ftl.
### Review: English is the gateway's original wording (after the English rendering of the
### order); not reviewed by a native speaker.

## Registries, as the texts name them

registry-gbd_fl = GBD FL
registry-zags = IS ZAGS
registry-social_security = E-social security
registry-nobd = NOBD
registry-epvo = EPVO

## Reasons and notes of CheckOwner

reason-organisation = The owner is an organisation (BIN): a dwelling owned by a legal entity has no minor or incapacitated owner
reason-not-found = GBD FL has no person with this IIN: the service is impossible here
reason-deceased-gbd = GBD FL records the owner as deceased
reason-deceased-zags = IS ZAGS holds death act No. { $record }
reason-declared-missing = A court declared the owner missing (Civil Code art. 28){ $record }: the owner cannot apply in person; the property is under trust management (art. 29) and whoever applies acts for the owner, whose powers the operational hall verifies
court-case = , case { $case }
court-date = { " " }of { $date }
court-name = , { $court }
court-no-record = { " " }(GBD FL gives no court record)
note-minor-married = The owner is a minor with a registered marriage (full capacity by marriage, Civil Code art. 17)
reason-minor = The owner is { $age } on { $date }, under 18 (birth date per GBD FL)
reason-incapable = A court declared the owner incapable (Civil Code art. 26){ $record }
reason-limited = A court declared the owner of limited capacity (Civil Code art. 27){ $record }
note-capacity-expired = The court status has an end date that has passed; it still routes to the hall until GBD FL records the owner as capable
reason-guardianship = The owner is under guardianship (опека), record { $record } since { $since }
reason-trusteeship = The owner is under trusteeship (попечительство), record { $record } since { $since }
note-birth-date-differs = The birth date in GBD FL differs from the one the IIN encodes; GBD FL's is used
note-disability = Disability group { $group } since { $since }
note-registry-not-answered = { $registry } did not answer: { $failure }; not needed for this outcome
reason-capable-adult = The owner is a living adult ({ $age } years) with no court restriction in GBD FL and no guardianship or trusteeship in E-social security
note-legal-basis-expired = The decision date { $date } is after the end of the term of the { $act } (in force until { $until }): the answer follows its algorithm, but no act in force on that date is configured; check the legal basis
note-legal-basis-not-yet = The decision date { $date } is before the { $act } takes effect ({ $from }): the answer follows its algorithm, but no act in force on that date is configured; check the legal basis

## The applicant as the owner's representative

rep-owner = The applicant is the owner
rep-guardian = The applicant is the owner's guardian per E-social security record { $record }
rep-trustee = The applicant is the owner's trustee per E-social security record { $record }
rep-missing-trustee = The applicant is the trustee managing the property of the owner declared missing, per the court record in GBD FL (case { $case })
rep-missing-trustee-no-case = The applicant is the trustee managing the property of the owner declared missing, per the court record in GBD FL (case not given)
rep-mother = The applicant is the owner's mother per IS ZAGS birth act No. { $record }
rep-father = The applicant is the owner's father per IS ZAGS birth act No. { $record }
rep-not-confirmed = No IS ZAGS birth act, E-social security guardianship or trusteeship, or GBD FL court record links the applicant to the owner: the employee must check the representative's documents{ $silent }
rep-not-answered = { " " }({ $registry } did not answer)

## CheckDwelling: why an owner counts for the dwelling

dwelling-owner = owners[{ $index }] { $who }{ $then }
who-deceased = is deceased
who-unknown = is unknown to GBD FL
who-organisation = is an organisation
who-adult = is a living capable adult
who-missing = is declared missing by a court: someone acts for the owner
who-minor = is a minor or incapacitated person
then-refuse = : an inheritance not yet registered, or a wrong number; the service is impossible here whatever the other owners are (decision.deceased_co_owner = refuse)
then-heirs = : the heirs' documents are seen in the operational hall (decision.deceased_co_owner = hall)
then-hall = : the dwelling goes to the operational hall
then-online = { "" }
dwelling-no-decision = owners[{ $index }]: no decision ({ $error }); not needed for this outcome
