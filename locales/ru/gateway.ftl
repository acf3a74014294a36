### registry-gateway: собственные тексты шлюза (основания, примечания, представительство,
### основания по жилищу), русский язык. Слова самого приказа (название акта, его пункты,
### предупреждение) находятся в текстах акта: joint-order-801-500.ftl.
### Review: черновик, носителем языка не проверен; каждое сообщение помечено «needs-review».

## Реестры

# needs-review
registry-gbd_fl = ГБД ФЛ
# needs-review
registry-zags = ИС ЗАГС
# needs-review
registry-social_security = АИС «Е-Собес»
# needs-review
registry-nobd = НОБД
# needs-review
registry-epvo = ЕПВО

## Основания и примечания CheckOwner

# needs-review
reason-organisation = Собственник — организация (БИН): у жилища, принадлежащего юридическому лицу, нет несовершеннолетнего или недееспособного собственника
# needs-review
reason-not-found = В ГБД ФЛ нет лица с этим ИИН: оказание услуги здесь невозможно
# needs-review
reason-deceased-gbd = ГБД ФЛ записывает собственника как умершего
# needs-review
reason-deceased-zags = В ИС ЗАГС есть актовая запись о смерти № { $record }
# needs-review
reason-declared-missing = Суд признал собственника безвестно отсутствующим (ГК РК, ст. 28){ $record }: собственник не может обратиться лично; имущество передано в доверительное управление (ст. 29), и заявитель действует за собственника, полномочия которого проверяются в операционном зале
# needs-review
court-case = , дело { $case }
# needs-review
court-date = { " " }от { $date }
# needs-review
court-name = , { $court }
# needs-review
court-no-record = { " " }(ГБД ФЛ не сообщает сведений о решении суда)
# needs-review
note-minor-married = Собственник — несовершеннолетний, состоящий в зарегистрированном браке (полная дееспособность со вступлением в брак, ГК РК, ст. 17)
# needs-review
reason-minor = Возраст собственника на { $date }: { $age }, меньше 18 лет (дата рождения по ГБД ФЛ)
# needs-review
reason-incapable = Суд признал собственника недееспособным (ГК РК, ст. 26){ $record }
# needs-review
reason-limited = Суд признал собственника ограниченно дееспособным (ГК РК, ст. 27){ $record }
# needs-review
note-capacity-expired = Срок статуса, установленного судом, истёк; собственник направляется в зал, пока ГБД ФЛ не запишет его дееспособным
# needs-review
reason-guardianship = Над собственником установлена опека, запись { $record } с { $since }
# needs-review
reason-trusteeship = Над собственником установлено попечительство, запись { $record } с { $since }
# needs-review
note-birth-date-differs = Дата рождения в ГБД ФЛ отличается от закодированной в ИИН; используется дата ГБД ФЛ
# needs-review
note-disability = Инвалидность { $group } группы с { $since }
# needs-review
note-registry-not-answered = { $registry } не ответила: { $failure }; для этого решения не требуется
# needs-review
reason-capable-adult = Собственник — живой совершеннолетний (возраст { $age }) без ограничений по решению суда в ГБД ФЛ и без опеки или попечительства в АИС «Е-Собес»
# needs-review
note-legal-basis-expired = Дата решения { $date } позже окончания срока действия акта «{ $act }» (действует до { $until }): ответ следует его алгоритму, но акт, действующий на эту дату, не настроен; проверьте правовое основание
# needs-review
note-legal-basis-not-yet = Дата решения { $date } раньше вступления в силу акта «{ $act }» ({ $from }): ответ следует его алгоритму, но акт, действующий на эту дату, не настроен; проверьте правовое основание

## Заявитель как представитель собственника

# needs-review
rep-owner = Заявитель — сам собственник
# needs-review
rep-guardian = Заявитель — опекун собственника по записи АИС «Е-Собес» { $record }
# needs-review
rep-trustee = Заявитель — попечитель собственника по записи АИС «Е-Собес» { $record }
# needs-review
rep-missing-trustee = Заявитель — доверительный управляющий имуществом собственника, признанного безвестно отсутствующим, по решению суда в ГБД ФЛ (дело { $case })
# needs-review
rep-missing-trustee-no-case = Заявитель — доверительный управляющий имуществом собственника, признанного безвестно отсутствующим, по решению суда в ГБД ФЛ (номер дела не указан)
# needs-review
rep-mother = Заявитель — мать собственника по актовой записи о рождении ИС ЗАГС № { $record }
# needs-review
rep-father = Заявитель — отец собственника по актовой записи о рождении ИС ЗАГС № { $record }
# needs-review
rep-not-confirmed = Ни актовая запись о рождении ИС ЗАГС, ни опека или попечительство в АИС «Е-Собес», ни решение суда в ГБД ФЛ не связывают заявителя с собственником: работник проверяет документы представителя{ $silent }
# needs-review
rep-not-answered = { " " }({ $registry } не ответила)

## CheckDwelling: почему собственник влияет на решение по жилищу

# needs-review
dwelling-owner = owners[{ $index }] { $who }{ $then }
# needs-review
who-deceased = умер
# needs-review
who-unknown = неизвестен ГБД ФЛ
# needs-review
who-organisation = организация
# needs-review
who-adult = живой дееспособный совершеннолетний
# needs-review
who-missing = признан судом безвестно отсутствующим: за собственника действует другое лицо
# needs-review
who-minor = несовершеннолетний или недееспособный
# needs-review
then-refuse = : наследство не оформлено или номер указан неверно; оказание услуги здесь невозможно, каковы бы ни были другие собственники (decision.deceased_co_owner = refuse)
# needs-review
then-heirs = : документы наследников проверяются в операционном зале (decision.deceased_co_owner = hall)
# needs-review
then-hall = : жилище направляется в операционный зал
# needs-review
then-online = { "" }
# needs-review
dwelling-no-decision = owners[{ $index }]: нет решения ({ $error }); для этого решения не требуется
