"""The built-in prompts of ``--prompt-style paper`` (the default): what the paper asked, in our own words.

Audio Dialogues (arXiv 2404.07616, section 3) and Audio Flamingo 1 (arXiv 2402.01831, appendix B.1-B.4)
describe the prompts they sent to GPT-4; their sentences are not ours to ship, so these prompts carry
the same content points in our words (``--prompt FILE`` sends any text, the papers' own included):

- a dialogue of **four turns**, one JSON object a line per question-answer pair;
- questions that are **diverse and complex** and answers that **reason**; later questions refer back
  with pronouns;
- examples that answer boldly (a key, a tempo) and one turn whose honest answer is that the audio does
  not tell (the low-confidence filter then removes such turns, as in the paper);
- music: the caption **and the MusicCaps aspect list** are given, with **14 suggested question topics**;
- comparisons: every clip as ``Audio k: Sound of <label> (<description>)``, no times.

What is given about a clip is built by :func:`~.prompts.clip_text`; the stricter prompts of
``--prompt-style grounded`` are in :mod:`.prompts`.
"""

from __future__ import annotations

# The music prompt's suggested question topics (the paper lists fourteen; see docs/paper-differences.md).
MUSIC_TOPICS: tuple[str, ...] = (
    "whether it is a live or a studio recording",
    "whether a guitar is acoustic or electric",
    "whether an instrument plays chords, a riff or a solo",
    "the genre",
    "the key",
    "the time signature",
    "the tempo",
    "the vocals (who sings, how, and whether there are any)",
    "the pitch of a voice or an instrument",
    "how fast someone speaks or sings",
    "the language and accent of the words",
    "the emotion the music carries",
    "the age of a singer or speaker",
    "which instruments are heard",
)

_FORMAT = """Write each question-answer pair on its own line as one JSON object with exactly the keys "user" and \
"assistant", and nothing else around them."""

_DIALOGUE_RULES = """Write a dialogue of four turns. In each turn the user asks one question about the audio and \
the assistant answers it as someone who has just listened to it. Make the questions diverse and complex: not only \
what is heard, but also why, in what order, in what setting, and what a careful listener can work out from it; the \
answers give their reasoning. Later questions build on earlier answers and may refer back to them with pronouns \
("it", "they", "that sound"). Talk about the sound as heard: never mention the text you were given. When the audio \
cannot settle a question, the assistant says so plainly."""

AUDIOSET_DIALOGUE_PROMPT = f"""You write a conversation between a user and an assistant about one 10-second audio \
clip. You do not hear the clip. You are given its sound events, one a line: "Sound of <label> (<what it sounds \
like>)", then the times, in seconds, at which that event is heard.

{_DIALOGUE_RULES}

{_FORMAT}

Example, for these events:
Sound of Vehicle (a low engine hum with tire noise): [0.000s-10.000s]
Sound of Vehicle horn (a short loud honk): [4.200s-4.900s]
Sound of Speech (a man talking calmly): [6.100s-9.500s]
{{"user": "Where do you think this was recorded?", "assistant": "On or beside a road: an engine hums for the whole \
clip, with tire noise under it."}}
{{"user": "Why would someone honk in the middle of it?", "assistant": "The honk is short and single, the kind a \
driver gives to warn someone ahead, so probably traffic or a pedestrian in the way."}}
{{"user": "Does the man who speaks afterwards sound upset about it?", "assistant": "No, he talks calmly, which \
suggests the honk was a routine warning rather than a near miss."}}
{{"user": "What make of car is it?", "assistant": "That is hard to tell from the sound alone: the engine is an \
ordinary hum with nothing that marks a make."}}
"""

MUSIC_DIALOGUE_PROMPT = (
    """You write a conversation between a user and an assistant about one 10-second music clip. You do not \
hear the clip. You are given the tags a musician gave it (a list of its aspects) and the description the same \
musician wrote.

"""
    + _DIALOGUE_RULES
    + """ Questions may be about any of these, as the clip allows: """
    + "; ".join(MUSIC_TOPICS)
    + f""".

{_FORMAT}

Example, for:
Tags: rock, electric guitar, distorted riff, fast tempo, male vocals, energetic, live recording
Description: A live rock band plays a fast song. A distorted electric guitar repeats a riff while a man shouts the \
lyrics. The crowd cheers.
{{"user": "Is this a studio recording?", "assistant": "No, it is live: the crowd cheering and the rough mix give it \
away."}}
{{"user": "What is the guitar playing?", "assistant": "A distorted electric guitar repeats a short riff rather than \
chords or a solo, which drives the song forward."}}
{{"user": "What key and tempo is it in?", "assistant": "It sits in E minor at a fast tempo of about 160 beats per \
minute, typical of energetic rock."}}
{{"user": "What language are the lyrics in?", "assistant": "It is hard to tell: the singer shouts over the guitar and \
the words are not clear enough to make out."}}
"""
)

COMPARISON_PROMPT = f"""You write one question and its answer comparing several 10-second audio clips. You do not \
hear them. Each is given as "Audio <k>: Sound of <label> (<what it sounds like>)", several sounds of a clip \
separated by semicolons.

Write exactly one turn: the user asks a diverse and complex question that refers to the clips as Audio 1, \
Audio 2, and so on (which ones hold a sound, how they differ, what they share, where each could have been \
recorded), and the assistant answers it with its reasoning, as someone who has listened to all of them. Never \
mention the text you were given.

{_FORMAT}

Example, for:
Audio 1: Sound of Rain (steady drops on a hard surface); Sound of Thunder (a distant low rumble)
Audio 2: Sound of Piano (soft notes played slowly)
Audio 3: Sound of Rain (light patter on leaves)
{{"user": "Which of these clips were recorded outdoors, and how can you tell?", "assistant": "Audio 1 and Audio 3: \
both have rain, and Audio 1 also has thunder. Audio 2 is a slow solo piano, most likely indoors."}}
"""

PAPER_PROMPTS: dict[str, str] = {
    "audioset_dialogues": AUDIOSET_DIALOGUE_PROMPT,
    "music_dialogues": MUSIC_DIALOGUE_PROMPT,
    "audioset_comparison": COMPARISON_PROMPT,
}
