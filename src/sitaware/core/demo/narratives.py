"""Narrative templates of the demo scenario, per taxonomy category, in English and French. Pure: no Django.

The actors are generic on purpose ("unidentified armed men", "an armed group"): the demo invents incidents at
real places and must not pin invented violence on real groups.

Actors are plural and victims masculine singular in French, so that the verbs agree in every template.

Slots: {when} opens every narrative; {place}, {area} (admin1), {actor}, {victim}, {n} (a small count) and
{unit} (the reporting unit's name). A sentence on casualties is added from the record's own counts.
"""

from __future__ import annotations

from dataclasses import dataclass

# group -> (most killed, most injured, most missing) one record of the category may report.
Casualty = dict[str, tuple[int, int, int]]


@dataclass(frozen=True)
class CategoryTemplate:
    weight: int
    casualties: Casualty
    en: tuple[str, ...]
    fr: tuple[str, ...]


ACTORS = {
    "en": ("unidentified armed men", "elements of an armed group", "armed herders",
           "members of a local self-defence group", "men in military fatigues", "armed men on motorcycles"),
    "fr": ("des hommes armés non identifiés", "des éléments d'un groupe armé", "des éleveurs armés",
           "des membres d'un groupe d'autodéfense local", "des hommes en tenue militaire", "des hommes armés à moto"),
}
VICTIMS = {
    "en": ("a trader", "a farmer", "a motorcycle-taxi driver", "a displaced man", "a herder", "a teacher",
           "a young man", "a fisherman"),
    "fr": ("un commerçant", "un agriculteur", "un conducteur de moto-taxi", "un déplacé", "un éleveur",
           "un enseignant", "un jeune homme", "un pêcheur"),
}
MONTHS = {
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
}
CASUALTY_WORDS = {
    "en": {"intro": "Casualties reported", "killed": "killed", "injured": "injured", "missing": "missing",
           "civilians": "civilians", "security_forces": "security forces", "un_personnel": "UN personnel",
           "armed_groups": "armed elements", "unknown": "persons of unknown affiliation"},
    "fr": {"intro": "Victimes signalées", "killed": "tués", "injured": "blessés", "missing": "disparus",
           "civilians": "civils", "security_forces": "forces de sécurité", "un_personnel": "personnel de l'ONU",
           "armed_groups": "éléments armés", "unknown": "personnes d'affiliation inconnue"},
}

CIV: Casualty = {"civilians": (3, 4, 1)}
NONE: Casualty = {}

TEMPLATES: dict[str, CategoryTemplate] = {
    "conflict.battles.armed_clash": CategoryTemplate(
        12, {"armed_groups": (6, 5, 0), "security_forces": (2, 3, 0), "civilians": (2, 2, 0)},
        ("{when}, heavy gunfire was heard near {place} ({area}) as {actor} clashed with another armed group "
         "for about two hours. Residents fled towards the bush.",
         "{when}, an exchange of fire took place on the road out of {place} between {actor} and national "
         "defence forces."),
        ("{when}, des tirs nourris ont été entendus près de {place} ({area}) lors d'un affrontement entre "
         "{actor} et un autre groupe armé pendant environ deux heures. Les habitants ont fui en brousse.",
         "{when}, un échange de tirs a eu lieu sur l'axe sortant de {place} entre {actor} et les forces de "
         "défense nationales."),
    ),
    "conflict.battles.government_regains_territory": CategoryTemplate(
        2, {"armed_groups": (4, 3, 0), "security_forces": (1, 2, 0)},
        ("{when}, national forces regained control of {place} ({area}) after {actor} withdrew following "
         "an exchange of fire.",),
        ("{when}, les forces nationales ont repris le contrôle de {place} ({area}) après le retrait de "
         "{actor} à la suite d'un échange de tirs.",),
    ),
    "conflict.battles.nonstate_takes_territory": CategoryTemplate(
        2, {"security_forces": (3, 3, 1), "civilians": (2, 2, 1)},
        ("{when}, {actor} took control of {place} ({area}) after local authorities left the town.",),
        ("{when}, {actor} ont pris le contrôle de {place} ({area}) après le départ des autorités locales.",),
    ),
    "conflict.remote_violence.air_drone_strike": CategoryTemplate(
        1, {"armed_groups": (5, 3, 0), "civilians": (2, 2, 0)},
        ("{when}, an aircraft was reported striking a position held by {actor} some kilometres from {place}.",),
        ("{when}, un aéronef aurait frappé une position tenue par {actor} à quelques kilomètres de {place}.",),
    ),
    "conflict.remote_violence.shelling": CategoryTemplate(
        1, {"civilians": (2, 4, 0), "security_forces": (1, 2, 0)},
        ("{when}, several mortar rounds landed near {place} ({area}); their origin could not be established.",),
        ("{when}, plusieurs obus de mortier sont tombés près de {place} ({area}) ; leur origine n'a pas pu être "
         "établie.",),
    ),
    "conflict.remote_violence.ied": CategoryTemplate(
        3, {"civilians": (2, 3, 0), "security_forces": (2, 3, 0), "un_personnel": (0, 2, 0)},
        ("{when}, a vehicle struck an explosive device on the road between {place} and the next village. "
         "The road was closed pending clearance.",
         "{when}, an explosive device went off on a track used by farmers near {place} ({area})."),
        ("{when}, un véhicule a sauté sur un engin explosif sur l'axe entre {place} et le village voisin. "
         "L'axe a été fermé en attendant la dépollution.",
         "{when}, un engin explosif a explosé sur une piste empruntée par des agriculteurs près de {place} "
         "({area})."),
    ),
    "conflict.remote_violence.grenade": CategoryTemplate(
        1, {"civilians": (1, 5, 0)},
        ("{when}, a grenade was thrown into a crowd at the market of {place}.",),
        ("{when}, une grenade a été lancée dans la foule au marché de {place}.",),
    ),
    "conflict.violence_against_civilians.attack": CategoryTemplate(
        10, {"civilians": (6, 5, 2)},
        ("{when}, {actor} entered {place} ({area}), fired on residents and burned several houses.",
         "{when}, {actor} attacked {victim} on the road to the fields near {place}."),
        ("{when}, {actor} sont entrés dans {place} ({area}), ont tiré sur les habitants et incendié plusieurs "
         "maisons.",
         "{when}, {actor} ont attaqué {victim} sur le chemin des champs près de {place}."),
    ),
    "conflict.violence_against_civilians.sexual_violence": CategoryTemplate(
        3, NONE,
        ("{when}, a survivor reported to a protection partner in {place} that {actor} committed sexual violence "
         "against women collecting firewood. Referred for medical and psychosocial care.",),
        ("{when}, une survivante a signalé à un partenaire de protection à {place} que {actor} ont commis des "
         "violences sexuelles contre des femmes ramassant du bois. Orientée vers une prise en charge médicale "
         "et psychosociale.",),
    ),
    "conflict.violence_against_civilians.abduction": CategoryTemplate(
        3, {"civilians": (0, 0, 4)},
        ("{when}, {actor} abducted {n} people travelling between {place} and the neighbouring village; a ransom "
         "was demanded from the families.",),
        ("{when}, {actor} ont enlevé {n} personnes voyageant entre {place} et le village voisin ; une rançon a "
         "été exigée des familles.",),
    ),
    "conflict.protests.peaceful": CategoryTemplate(
        3, NONE,
        ("{when}, about {n}0 residents marched peacefully in {place} to demand better security on the roads.",),
        ("{when}, environ {n}0 habitants ont marché pacifiquement à {place} pour réclamer plus de sécurité sur "
         "les routes.",),
    ),
    "conflict.protests.with_intervention": CategoryTemplate(
        1, {"civilians": (0, 2, 0)},
        ("{when}, police dispersed a sit-in in front of the prefecture of {place}; several people were "
         "briefly held.",),
        ("{when}, la police a dispersé un sit-in devant la préfecture de {place} ; plusieurs personnes ont été "
         "brièvement retenues.",),
    ),
    "conflict.protests.excessive_force": CategoryTemplate(
        1, {"civilians": (1, 4, 0)},
        ("{when}, live rounds were reportedly fired to disperse protesters in {place} ({area}).",),
        ("{when}, des tirs à balles réelles auraient été effectués pour disperser des manifestants à {place} "
         "({area}).",),
    ),
    "conflict.riots.violent_demonstration": CategoryTemplate(
        2, {"civilians": (0, 3, 0), "security_forces": (0, 2, 0)},
        ("{when}, youths erected barricades and threw stones at vehicles in {place} after a killing in the "
         "neighbourhood.",),
        ("{when}, des jeunes ont érigé des barricades et lancé des pierres sur les véhicules à {place} après un "
         "meurtre dans le quartier.",),
    ),
    "conflict.riots.mob_violence": CategoryTemplate(
        2, {"civilians": (1, 3, 0)},
        ("{when}, a crowd attacked {victim} accused of theft at the market of {place}.",),
        ("{when}, une foule s'en est prise à {victim} accusé de vol au marché de {place}.",),
    ),
    "conflict.strategic.agreement": CategoryTemplate(
        1, NONE,
        ("{when}, community leaders and representatives of {actor} signed a local non-aggression pact in "
         "{place}.",),
        ("{when}, des leaders communautaires et des représentants de {actor} ont signé un pacte local de "
         "non-agression à {place}.",),
    ),
    "conflict.strategic.base_established": CategoryTemplate(
        1, NONE,
        ("{when}, {actor} were reported to have set up a new base a few kilometres from {place} ({area}).",),
        ("{when}, {actor} auraient installé une nouvelle base à quelques kilomètres de {place} ({area}).",),
    ),
    "conflict.strategic.looting_destruction": CategoryTemplate(
        3, NONE,
        ("{when}, {actor} looted the health centre and shops of {place} and set fire to granaries.",),
        ("{when}, {actor} ont pillé le centre de santé et les boutiques de {place} et incendié des greniers.",),
    ),
    "conflict.strategic.movement_of_forces": CategoryTemplate(
        3, NONE,
        ("{when}, a column of about {n}0 armed men was seen moving north of {place} ({area}).",),
        ("{when}, une colonne d'environ {n}0 hommes armés a été aperçue se déplaçant au nord de {place} "
         "({area}).",),
    ),
    "conflict.strategic.other": CategoryTemplate(
        1, NONE,
        ("{when}, rumours of an imminent attack on {place} caused residents to leave for the fields.",),
        ("{when}, des rumeurs d'attaque imminente contre {place} ont poussé les habitants à partir aux champs.",),
    ),
    "police.homicide": CategoryTemplate(
        6, {"civilians": (1, 0, 0)},
        ("{when}, the body of {victim} was found with gunshot wounds near {place}. A judicial police "
         "investigation was opened.",
         "{when}, {victim} was killed with a machete during a land dispute in {place} ({area})."),
        ("{when}, le corps d'{victim} a été retrouvé criblé de balles près de {place}. Une enquête de police "
         "judiciaire a été ouverte.",
         "{when}, {victim} a été tué à la machette lors d'un conflit foncier à {place} ({area})."),
    ),
    "police.armed_robbery": CategoryTemplate(
        8, {"civilians": (0, 2, 0)},
        ("{when}, two armed men robbed {victim} of cash and a phone near the market of {place}.",
         "{when}, {actor} stopped a truck on the road out of {place} and robbed the passengers."),
        ("{when}, deux hommes armés ont dépouillé {victim} de son argent et de son téléphone près du marché de "
         "{place}.",
         "{when}, {actor} ont arrêté un camion à la sortie de {place} et dépouillé les passagers."),
    ),
    "police.burglary": CategoryTemplate(
        3, NONE,
        ("{when}, a house was broken into at night in {place}; goods and a motorcycle were taken.",),
        ("{when}, une maison a été cambriolée de nuit à {place} ; des biens et une moto ont été emportés.",),
    ),
    "police.theft": CategoryTemplate(
        4, NONE,
        ("{when}, {victim} reported the theft of a motorcycle at {place}.",),
        ("{when}, {victim} a signalé le vol d'une moto à {place}.",),
    ),
    "police.assault": CategoryTemplate(
        4, {"civilians": (0, 2, 0)},
        ("{when}, {victim} was beaten during a quarrel at a bar in {place}.",),
        ("{when}, {victim} a été battu lors d'une dispute dans un bar de {place}.",),
    ),
    "police.sgbv.rape": CategoryTemplate(
        3, NONE,
        ("{when}, a girl was raped by a man known to her family in {place}. The survivor was referred to the "
         "hospital; the suspect fled.",),
        ("{when}, une fille a été violée par un homme connu de sa famille à {place}. La survivante a été "
         "orientée vers l'hôpital ; le suspect a pris la fuite.",),
    ),
    "police.sgbv.domestic_violence": CategoryTemplate(
        3, {"civilians": (0, 1, 0)},
        ("{when}, a woman was seriously injured by her husband in {place}; the case was reported to the "
         "gendarmerie.",),
        ("{when}, une femme a été grièvement blessée par son mari à {place} ; l'affaire a été signalée à la "
         "gendarmerie.",),
    ),
    "police.sgbv.other": CategoryTemplate(
        1, NONE,
        ("{when}, a forced marriage of a minor was reported to the police in {place}.",),
        ("{when}, un mariage forcé d'une mineure a été signalé à la police à {place}.",),
    ),
    "police.abduction": CategoryTemplate(
        3, {"civilians": (0, 0, 2)},
        ("{when}, {victim} was kidnapped near {place} by {actor} who demanded a ransom.",),
        ("{when}, {victim} a été enlevé près de {place} par {actor} qui ont exigé une rançon.",),
    ),
    "police.looting": CategoryTemplate(
        2, NONE,
        ("{when}, shops were looted in {place} during the night by {actor}.",),
        ("{when}, des boutiques ont été pillées de nuit à {place} par {actor}.",),
    ),
    "police.cattle_raiding": CategoryTemplate(
        4, {"civilians": (1, 1, 0)},
        ("{when}, {actor} stole about {n}0 head of cattle from a camp near {place} ({area}).",),
        ("{when}, {actor} ont volé environ {n}0 têtes de bétail dans un campement près de {place} ({area}).",),
    ),
    "police.illegal_checkpoint_extortion": CategoryTemplate(
        5, NONE,
        ("{when}, {actor} set up an illegal checkpoint on the road out of {place}, charging each motorcycle a "
         "fee.",),
        ("{when}, {actor} ont érigé une barrière illégale à la sortie de {place}, exigeant un paiement de chaque "
         "moto.",),
    ),
    "police.threat_un_personnel": CategoryTemplate(
        2, {"un_personnel": (0, 2, 0)},
        ("{when}, a UN patrol was threatened by {actor} at the entrance of {place}; the patrol withdrew "
         "without incident.",),
        ("{when}, une patrouille de l'ONU a été menacée par {actor} à l'entrée de {place} ; la patrouille s'est "
         "retirée sans incident.",),
    ),
    "police.mob_justice": CategoryTemplate(
        2, {"civilians": (1, 1, 0)},
        ("{when}, a man accused of witchcraft was lynched by residents of {place} before police arrived.",),
        ("{when}, un homme accusé de sorcellerie a été lynché par des habitants de {place} avant l'arrivée de "
         "la police.",),
    ),
    "police.arson": CategoryTemplate(
        2, NONE,
        ("{when}, {n} houses were deliberately set on fire in {place}.",),
        ("{when}, {n} maisons ont été volontairement incendiées à {place}.",),
    ),
    "police.weapons_trafficking": CategoryTemplate(
        1, NONE,
        ("{when}, police seized {n} firearms and ammunition hidden in a vehicle at {place}.",),
        ("{when}, la police a saisi {n} armes à feu et des munitions cachées dans un véhicule à {place}.",),
    ),
    "police.drugs": CategoryTemplate(
        2, NONE,
        ("{when}, police seized cannabis and tramadol at the bus station of {place}.",),
        ("{when}, la police a saisi du cannabis et du tramadol à la gare routière de {place}.",),
    ),
    "police.human_trafficking": CategoryTemplate(
        1, NONE,
        ("{when}, {n} children travelling without their parents were intercepted at {place}; a trafficking "
         "investigation was opened.",),
        ("{when}, {n} enfants voyageant sans leurs parents ont été interceptés à {place} ; une enquête pour "
         "traite a été ouverte.",),
    ),
    "police.child_recruitment": CategoryTemplate(
        1, NONE,
        ("{when}, families in {place} reported that {actor} recruited {n} boys from the village.",),
        ("{when}, des familles de {place} ont signalé que {actor} ont recruté {n} garçons du village.",),
    ),
    "police.uxo": CategoryTemplate(
        1, NONE,
        ("{when}, children found an unexploded shell in a field at {place}; the area was marked off.",),
        ("{when}, des enfants ont trouvé un obus non explosé dans un champ à {place} ; la zone a été balisée.",),
    ),
    "police.other": CategoryTemplate(
        1, NONE,
        ("{when}, a dispute over a water point in {place} was settled by the police.",),
        ("{when}, un différend autour d'un point d'eau à {place} a été réglé par la police.",),
    ),
    "humanitarian.displacement": CategoryTemplate(
        6, NONE,
        ("{when}, about {n}00 people arrived at the displacement site of {place}, fleeing insecurity in "
         "surrounding villages.",),
        ("{when}, environ {n}00 personnes sont arrivées sur le site de déplacés de {place}, fuyant l'insécurité "
         "dans les villages environnants.",),
    ),
    "humanitarian.returns": CategoryTemplate(
        2, NONE,
        ("{when}, about {n}0 households returned to {place} ({area}) after the situation calmed.",),
        ("{when}, environ {n}0 ménages sont retournés à {place} ({area}) après l'accalmie.",),
    ),
    "humanitarian.access_denial": CategoryTemplate(
        4, NONE,
        ("{when}, a humanitarian convoy was turned back by {actor} on the road to {place}.",),
        ("{when}, un convoi humanitaire a été refoulé par {actor} sur l'axe menant à {place}.",),
    ),
    "humanitarian.attack_on_aid_workers": CategoryTemplate(
        2, {"civilians": (0, 2, 0)},
        ("{when}, {actor} robbed the staff of an NGO vehicle near {place}.",),
        ("{when}, {actor} ont braqué le personnel d'un véhicule d'ONG près de {place}.",),
    ),
    "humanitarian.natural_hazard": CategoryTemplate(
        1, {"civilians": (1, 2, 1)},
        ("{when}, heavy rains flooded {n}0 houses in {place} ({area}).",),
        ("{when}, de fortes pluies ont inondé {n}0 maisons à {place} ({area}).",),
    ),
    "humanitarian.other": CategoryTemplate(
        1, NONE,
        ("{when}, a cholera alert was raised at the health centre of {place}.",),
        ("{when}, une alerte au choléra a été lancée au centre de santé de {place}.",),
    ),
    "activity.patrol.foot": CategoryTemplate(
        5, NONE,
        ("{when}, {unit} conducted a foot patrol in the market area of {place}; residents reported no "
         "incident.",),
        ("{when}, {unit} a effectué une patrouille pédestre dans le quartier du marché de {place} ; les "
         "habitants n'ont signalé aucun incident.",),
    ),
    "activity.patrol.vehicle": CategoryTemplate(
        5, NONE,
        ("{when}, {unit} conducted a vehicle patrol along the road from {place}; the road is passable.",),
        ("{when}, {unit} a effectué une patrouille motorisée sur l'axe partant de {place} ; la route est "
         "praticable.",),
    ),
    "activity.patrol.joint": CategoryTemplate(
        4, NONE,
        ("{when}, a joint patrol with the host-state police covered {place} and two neighbouring villages.",),
        ("{when}, une patrouille conjointe avec la police nationale a couvert {place} et deux villages "
         "voisins.",),
    ),
    "activity.meeting.community_engagement": CategoryTemplate(
        3, NONE,
        ("{when}, {unit} met about {n}0 community leaders, women and youth in {place} on security concerns.",),
        ("{when}, {unit} a rencontré environ {n}0 leaders communautaires, femmes et jeunes à {place} au sujet "
         "de leurs préoccupations sécuritaires.",),
    ),
    "activity.meeting.coordination": CategoryTemplate(
        2, NONE,
        ("{when}, a security coordination meeting was held in {place} with local authorities and partners.",),
        ("{when}, une réunion de coordination sécuritaire s'est tenue à {place} avec les autorités locales et "
         "les partenaires.",),
    ),
    "activity.arrest": CategoryTemplate(
        4, NONE,
        ("{when}, police arrested {n} suspects in {place} in connection with an armed robbery.",),
        ("{when}, la police a interpellé {n} suspects à {place} dans le cadre d'un vol à main armée.",),
    ),
    "activity.escort": CategoryTemplate(
        2, NONE,
        ("{when}, {unit} escorted a convoy of traders from {place} to the next town.",),
        ("{when}, {unit} a escorté un convoi de commerçants de {place} jusqu'à la ville voisine.",),
    ),
    "activity.checkpoint_operation": CategoryTemplate(
        2, NONE,
        ("{when}, a mixed checkpoint was run at the entrance of {place}; {n} vehicles were searched.",),
        ("{when}, un poste de contrôle mixte a été tenu à l'entrée de {place} ; {n} véhicules ont été "
         "fouillés.",),
    ),
    "activity.training_mentoring": CategoryTemplate(
        2, NONE,
        ("{when}, {unit} trained {n} host-state police officers in {place} on crime-scene management.",),
        ("{when}, {unit} a formé {n} policiers nationaux à {place} à la gestion des scènes de crime.",),
    ),
    "activity.investigation_support": CategoryTemplate(
        1, NONE,
        ("{when}, {unit} supported the judicial police of {place} in collecting evidence for a homicide "
         "case.",),
        ("{when}, {unit} a appuyé la police judiciaire de {place} dans la collecte de preuves pour une affaire "
         "d'homicide.",),
    ),
    "activity.detention_visit": CategoryTemplate(
        1, NONE,
        ("{when}, {unit} visited the police cells of {place}: {n} detainees, two held beyond the legal time "
         "limit.",),
        ("{when}, {unit} a visité les cellules de police de {place} : {n} détenus, dont deux au-delà du délai "
         "légal de garde à vue.",),
    ),
    "activity.other": CategoryTemplate(
        1, NONE,
        ("{when}, {unit} handed over radio equipment to the police station of {place}.",),
        ("{when}, {unit} a remis du matériel radio au commissariat de {place}.",),
    ),
}
