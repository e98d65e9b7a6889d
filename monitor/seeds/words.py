"""Word lists for finding candidate terms in English and Spanish text (`seeds.py`).

Folded like token keys: lower case, no accents (también -> tambien).
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Words that never start or end a useful phrase, and never make a name on their own.
STOPWORDS = _words(
    """a about above after again against all also although am among an and any are as at be
    because been before being between both but by can could did do does doing down during each
    either even ever every few for from further had has have having he her here hers him his how
    however i if in into is it its itself just less many may me might more most much must my
    neither no nor not now of off on once one only or other our ours out over own per rather
    same she should since so some still such than that the their theirs them then there these
    they this those though through thus to too toward towards under until up upon us very via
    was we were what when where whether which while who whom whose why will with within without
    would yet you your
    furthermore therefore moreover meanwhile nevertheless nonetheless additionally ultimately
    instead indeed hence given despite whereas likewise similarly finally first second third
    also already almost always often perhaps
    al ante aquel segun hacia mediante aquella aun bajo cada como con contra cual cuando de del desde donde durante
    el ella ellas ello ellos en entre era eran es esa ese eso esta estaba estado estan este esto
    fue fueron ha han hasta hay la las le les lo los mas me mi mientras muy ni no nos o otra
    otras otro otros para pero poco por porque que quien se ser si sin sino sobre son su sus
    tambien tan tanto te tiene tienen todo todos tras tu un una uno unos unas y ya
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday"""
)
# Capitalised words that open a name without being part of it.
TITLES = _words(
    """president presidenta presidente former ex ambassador embajador embajadora general gen
    secretary secretario secretaria minister ministro ministra senator senador senadora sen rep
    representative governor gobernador gobernadora mr mrs ms dr don dona lic judge juez
    director directora chief jefe commander comandante"""
)
# Lower-case words that may join capitalised words inside one name.
PARTICLES = _words("de del la las los da do dos van von der of for on the")
ABBREVIATIONS = _words("mr mrs ms dr gen sen rep st jr sr lt col gov no vs etc sra lic")
# Adjectives of nationality: capitalised in English, but not names of anyone.
DEMONYMS = _words(
    """american americans mexican mexicans canadian canadians european europeans latin
    colombian venezuelan cuban chinese russian spanish english french german british"""
)
