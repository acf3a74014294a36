### The act the answers cite, English: joint order MVD No. 801 / MCRIAP No. 500 (the pilot of
### the services "Registration at the place of residence" and "Temporary registration"), its
### name, the services it names, the wording of the items of its appendix the gateway cites,
### and the warning of item 8. After the English rendering of the order (an AI translation,
### not a valid legal document). Review: not reviewed by a native speaker.
### `{ $service }` is the service's name (service-residence or service-temporary).

act-name = joint order of the Minister of Internal Affairs of the Republic of Kazakhstan No. 801 of 31 October 2025 and the Minister of Artificial Intelligence and Digital Development of the Republic of Kazakhstan No. 500 of 7 October 2025
service-residence = Registration at the place of residence of citizens of the Republic of Kazakhstan
service-temporary = Temporary registration at the place of temporary stay (accommodation) of citizens of the Republic of Kazakhstan
item-4 = Item 4: the owner is a minor or incapacitated person: the reception worker sends the applicant to the operational hall for the service "{ $service }"
item-4-missing = Item 4: the owner is declared missing by a court and cannot apply in person; as for a minor or incapacitated owner, the reception worker sends the applicant to the operational hall for the service "{ $service }"
item-5 = Item 5: the owner is not a minor or incapacitated person: the reception worker informs the applicant that the service "{ $service }" is received online, including at the self-service sector of the department of the State corporation
item-7 = Item 7: positive result of the check: the employee verifies the documents confirming the powers of the owner's legal representative and, if they comply, draws up the request for the service "{ $service }" in IIS TsON
item-7-missing = Item 7: positive result of the check: the owner is declared missing by a court; the employee verifies the documents confirming the powers of the person acting for the owner (the trustee managing the owner's property by the court's decision) and, if they comply, draws up the request for the service "{ $service }" in IIS TsON
item-8-online = Item 8: negative result of the check: the owner is not a minor or incapacitated person; the employee refuses the service "{ $service }" here and informs the applicant that it is received online
item-8-refused = Item 8: an owner is deceased or unknown to GBD FL: the employee refuses the service "{ $service }" here
warning = The service "{ $service }" cannot be rendered here. Receive it online through the e-government portal (egov.kz), the eGov Mobile application or other objects of informatization, per order No. 267 of the Minister of Internal Affairs of 30 March 2020
