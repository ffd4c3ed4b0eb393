"""Custom NLU components: language detection and the FAQ confidence gate."""
