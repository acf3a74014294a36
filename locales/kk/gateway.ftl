### registry-gateway: шлюздің өз мәтіндері (негіздер, ескертпелер, өкілдік, тұрғын үй
### бойынша негіздер), қазақ тілі. Бұйрықтың өз сөздері (актінің атауы, тармақтары,
### ескерту) акт мәтіндерінде: joint-order-801-500.ftl.
### Review: машиналық жоба, ана тілі қазақ тілі болып табылатын маман тексермеген; әр хабар
### «needs-review» деп белгіленген.

## Тізілімдер

# needs-review
registry-gbd_fl = ЖТ МДҚ
# needs-review
registry-zags = АХАЖ АЖ
# needs-review
registry-social_security = «Е-Собес» АЖ
# needs-review
registry-nobd = ҰБДҚ
# needs-review
registry-epvo = ЖБЕП

## CheckOwner негіздері мен ескертпелері

# needs-review
reason-organisation = Меншік иесі — ұйым (БСН): заңды тұлғаға тиесілі тұрғын үйдің кәмелетке толмаған немесе әрекетке қабілетсіз меншік иесі болмайды
# needs-review
reason-not-found = ЖТ МДҚ-да осы ЖСН бар тұлға жоқ: қызметті мұнда көрсету мүмкін емес
# needs-review
reason-deceased-gbd = ЖТ МДҚ меншік иесін қайтыс болған деп тіркеген
# needs-review
reason-deceased-zags = АХАЖ АЖ-да № { $record } қайтыс болу туралы акт жазбасы бар
# needs-review
reason-declared-missing = Сот меншік иесін хабар-ошарсыз кеткен деп таныды (ҚР АК, 28-бап){ $record }: меншік иесі жеке өзі өтініш бере алмайды; мүлік сенімгерлік басқаруға берілген (29-бап), өтініш беруші меншік иесінің атынан әрекет етеді, оның өкілеттіктері операциялық залда тексеріледі
# needs-review
court-case = , іс { $case }
# needs-review
court-date = { " " }{ $date } бастап
# needs-review
court-name = , { $court }
# needs-review
court-no-record = { " " }(ЖТ МДҚ сот шешімі туралы мәлімет бермейді)
# needs-review
note-minor-married = Меншік иесі — тіркелген некедегі кәмелетке толмаған адам (некеге тұрған кезден толық әрекет қабілеттілігі, ҚР АК, 17-бап)
# needs-review
reason-minor = Меншік иесі { $date } күні { $age } жаста, 18-ге толмаған (туған күні ЖТ МДҚ бойынша)
# needs-review
reason-incapable = Сот меншік иесін әрекетке қабілетсіз деп таныды (ҚР АК, 26-бап){ $record }
# needs-review
reason-limited = Сот меншік иесін әрекет қабілеттілігі шектеулі деп таныды (ҚР АК, 27-бап){ $record }
# needs-review
note-capacity-expired = Сот белгілеген мәртебенің мерзімі өтті; ЖТ МДҚ меншік иесін әрекетке қабілетті деп тіркегенге дейін ол залға жіберіледі
# needs-review
reason-guardianship = Меншік иесіне қорғаншылық белгіленген, жазба { $record }, { $since } бастап
# needs-review
reason-trusteeship = Меншік иесіне қамқоршылық белгіленген, жазба { $record }, { $since } бастап
# needs-review
note-birth-date-differs = ЖТ МДҚ-дағы туған күн ЖСН-дағы күннен өзгеше; ЖТ МДҚ күні қолданылады
# needs-review
note-disability = { $group } топтағы мүгедектік, { $since } бастап
# needs-review
note-registry-not-answered = { $registry } жауап бермеді: { $failure }; бұл шешім үшін қажет емес
# needs-review
reason-capable-adult = Меншік иесі — тірі кәмелетке толған адам ({ $age } жас), ЖТ МДҚ-да сот шектеуі жоқ, «Е-Собес» АЖ-да қорғаншылық не қамқоршылық жоқ
# needs-review
note-legal-basis-expired = Шешім күні { $date } «{ $act }» актісінің қолданылу мерзімі аяқталғаннан кейін ({ $until } дейін қолданылады): жауап оның алгоритміне сәйкес, бірақ осы күні қолданыстағы акт бапталмаған; құқықтық негізді тексеріңіз
# needs-review
note-legal-basis-not-yet = Шешім күні { $date } «{ $act }» актісі күшіне енгенге дейін ({ $from }): жауап оның алгоритміне сәйкес, бірақ осы күні қолданыстағы акт бапталмаған; құқықтық негізді тексеріңіз

## Өтініш беруші меншік иесінің өкілі ретінде

# needs-review
rep-owner = Өтініш беруші — меншік иесінің өзі
# needs-review
rep-guardian = Өтініш беруші — «Е-Собес» АЖ { $record } жазбасы бойынша меншік иесінің қорғаншысы
# needs-review
rep-trustee = Өтініш беруші — «Е-Собес» АЖ { $record } жазбасы бойынша меншік иесінің қамқоршысы
# needs-review
rep-missing-trustee = Өтініш беруші — ЖТ МДҚ-дағы сот шешімі бойынша (іс { $case }) хабар-ошарсыз кеткен деп танылған меншік иесінің мүлкін сенімгерлік басқарушы
# needs-review
rep-missing-trustee-no-case = Өтініш беруші — ЖТ МДҚ-дағы сот шешімі бойынша (іс нөмірі көрсетілмеген) хабар-ошарсыз кеткен деп танылған меншік иесінің мүлкін сенімгерлік басқарушы
# needs-review
rep-mother = Өтініш беруші — АХАЖ АЖ № { $record } туу туралы акт жазбасы бойынша меншік иесінің анасы
# needs-review
rep-father = Өтініш беруші — АХАЖ АЖ № { $record } туу туралы акт жазбасы бойынша меншік иесінің әкесі
# needs-review
rep-not-confirmed = АХАЖ АЖ туу туралы акт жазбасы да, «Е-Собес» АЖ-дағы қорғаншылық не қамқоршылық та, ЖТ МДҚ-дағы сот шешімі де өтініш берушіні меншік иесімен байланыстырмайды: қызметкер өкілдің құжаттарын тексереді{ $silent }
# needs-review
rep-not-answered = { " " }({ $registry } жауап бермеді)

## CheckDwelling: меншік иесі тұрғын үй бойынша шешімге неге әсер етеді

# needs-review
dwelling-owner = owners[{ $index }] { $who }{ $then }
# needs-review
who-deceased = қайтыс болған
# needs-review
who-unknown = ЖТ МДҚ-ға белгісіз
# needs-review
who-organisation = ұйым
# needs-review
who-adult = тірі, әрекетке қабілетті, кәмелетке толған
# needs-review
who-missing = сот хабар-ошарсыз кеткен деп таныған: меншік иесінің атынан басқа адам әрекет етеді
# needs-review
who-minor = кәмелетке толмаған немесе әрекетке қабілетсіз
# needs-review
then-refuse = : мұра ресімделмеген немесе нөмір қате; басқа меншік иелеріне қарамастан қызметті мұнда көрсету мүмкін емес (decision.deceased_co_owner = refuse)
# needs-review
then-heirs = : мұрагерлердің құжаттары операциялық залда тексеріледі (decision.deceased_co_owner = hall)
# needs-review
then-hall = : тұрғын үй операциялық залға жіберіледі
# needs-review
then-online = { "" }
# needs-review
dwelling-no-decision = owners[{ $index }]: шешім жоқ ({ $error }); бұл шешім үшін қажет емес
