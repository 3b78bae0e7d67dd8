"""The app's face: the door (``security``), its words in French and English (``text``) and
the sentences people read about results (``summaries``). Only ``app.py`` and the tests
import it; ``sentiment`` never does."""
