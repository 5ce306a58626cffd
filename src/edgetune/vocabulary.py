"""The KWS vocabulary and the tutorial's grid: class names, engines and neurons-per-class values.

Kept apart from the params schema that checks against them: they are what the dataset is made of
(class names and their order), so the fetch stage depends on this file, not on the schema.
"""

# The 35 Speech Commands words. The tutorial's pickle keeps 32 (all but the three below) plus
# silence; the three left out are the few-shot "new words" of BrainChip's KWS edge tutorial.
SPEECH_COMMANDS_WORDS = (
    "backward", "bed", "bird", "cat", "dog", "down", "eight", "five", "follow", "forward",
    "four", "go", "happy", "house", "learn", "left", "marvin", "nine", "no", "off", "on", "one",
    "right", "seven", "sheila", "six", "stop", "three", "tree", "two", "up", "visual", "wow",
    "yes", "zero",
)
NEW_WORDS = ("backward", "follow", "forward")
SILENCE = "_silence_"
TUTORIAL_WORDS = tuple(w for w in SPEECH_COMMANDS_WORDS if w not in NEW_WORDS)
ENGINES = ("espeak", "flite", "festival")  # the default
ALL_ENGINES = (*ENGINES, "accented", "piper")
TUTORIAL_NEURONS_PER_CLASS = (
    2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60, 70, 80, 90,
    100, 150, 200, 250, 300, 350, 400, 450, 500, 750, 1000,
)
