"""telltale: is a news text original, machine-translated or AI-rewritten, and what gave it away?"""
from model.match import Match, Matcher
from model.predictor import Artifact, Prediction, Predictor, Sentence

__all__ = ["Predictor", "Prediction", "Sentence", "Artifact", "Matcher", "Match"]
