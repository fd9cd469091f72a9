"""Sparse tf-idf vectors and running centroids for the offline topic model."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from adapters.llm.text import TextFeatures, features

SINGLETON_FACTOR = 0.3
# A text is read up to this many characters: its start says what it is about, and a 32,000
# character paste must not cost as much as a whole batch.
ANALYSED_CHARS = 2_000


class Idf:
    """Inverse document frequencies over the texts of one model input.

    The corpus is the input itself (messages, titles and summaries), so a term every topic uses
    weighs little and a term one conversation uses weighs much, with no vocabulary to download.
    """

    def __init__(self, documents: Iterable[Mapping[str, float]]) -> None:
        frequencies: dict[str, int] = {}
        total = 0
        for document in documents:
            total += 1
            for term in document:
                frequencies[term] = frequencies.get(term, 0) + 1
        self._total = total
        self._frequencies = frequencies

    def __call__(self, term: str) -> float:
        frequency = self._frequencies.get(term, 0)
        weight = math.log((1 + self._total) / (1 + frequency)) + 1.0
        # A term found in one text only matches nothing else: at full weight it would only
        # dilute the similarity of texts that do share terms (most of all the accidental
        # bigrams across word boundaries in Chinese).
        return weight * SINGLETON_FACTOR if frequency <= 1 else weight


@dataclass(frozen=True, slots=True)
class Vector:
    """A sparse tf-idf vector and its Euclidean norm."""

    values: dict[str, float]
    norm: float

    @classmethod
    def of(cls, counts: Mapping[str, float], idf: Idf) -> Vector:
        # log1p damps repetition: "deploy deploy deploy" is not three times as much about deploying.
        values = {term: math.log1p(count) * idf(term) for term, count in counts.items()}
        return cls(values, math.sqrt(sum(value * value for value in values.values())))

    def cosine(self, other: Vector) -> float:
        if self.norm == 0.0 or other.norm == 0.0:
            return 0.0
        small, large = (self, other) if len(self.values) <= len(other.values) else (other, self)
        values = large.values
        dot = 0.0
        for term, value in small.values.items():
            weight = values.get(term)
            if weight is not None:
                dot += value * weight
        return dot / (self.norm * other.norm)


class Centroid:
    """The sum of unit vectors of a topic's texts, with its norm kept up to date as texts join."""

    __slots__ = ("_norm2", "norm", "values")

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.norm = 0.0
        self._norm2 = 0.0

    def add(self, vector: Vector) -> None:
        if vector.norm == 0.0:
            return
        scale = 1.0 / vector.norm
        values = self.values
        for term, value in vector.values.items():
            old = values.get(term, 0.0)
            new = old + value * scale
            self._norm2 += new * new - old * old
            values[term] = new
        self.norm = math.sqrt(max(self._norm2, 0.0))

    def cosine(self, vector: Vector) -> float:
        norm = self.norm
        if norm == 0.0 or vector.norm == 0.0:
            return 0.0
        values = self.values
        dot = 0.0
        for term, value in vector.values.items():
            weight = values.get(term)
            if weight is not None:
                dot += value * weight
        return min(dot / (norm * vector.norm), 1.0)


class TopicIndex:
    """The topics' centroid weights by term, to compare a vector with the topics that share a term.

    The dot products come from the postings, so only overlapping pairs cost anything, however
    many topics a group has.
    """

    def __init__(self) -> None:
        self._postings: dict[str, dict[int, float]] = {}

    def add(self, index: int, centroid: Centroid, vector: Vector) -> None:
        """Mirror the weights of ``vector``'s terms in topic ``index``'s (updated) centroid."""
        postings = self._postings
        values = centroid.values
        for term in vector.values:
            postings.setdefault(term, {})[index] = values[term]

    def similarities(self, vector: Vector, centroids: Sequence[Centroid], common: int) -> dict[int, float]:
        """Cosine similarity with every topic sharing a term held by at most ``common`` topics."""
        dots: dict[int, float] = {}
        get = dots.get
        for term, value in vector.values.items():
            posting = self._postings.get(term)
            if posting and len(posting) <= common:
                for index, weight in posting.items():
                    dots[index] = get(index, 0.0) + value * weight
        similarities: dict[int, float] = {}
        for index, dot in dots.items():
            norm = centroids[index].norm * vector.norm
            similarities[index] = min(dot / norm, 1.0) if norm else 0.0
        return similarities


class Analyser:
    """Reads texts into features and tf-idf vectors, each distinct text once per rewrite.

    ``prepare`` runs on a text before it is read (the model strips @mentions with it). The
    inverse document frequencies come from :meth:`fit`, which must run before :meth:`vector`.
    """

    def __init__(self, prepare: Callable[[str], str]) -> None:
        self._prepare = prepare
        self._features: dict[str, TextFeatures] = {}
        self._vectors: dict[str, Vector] = {}
        self._idf: Idf | None = None

    @property
    def idf(self) -> Idf:
        if self._idf is None:
            raise RuntimeError("Analyser.fit must run before vectors are read")
        return self._idf

    def features(self, text: str) -> TextFeatures:
        found = self._features.get(text)
        if found is None:
            found = self._features[text] = features(self._prepare(text[:ANALYSED_CHARS]))
        return found

    def fit(self, documents: Iterable[str]) -> None:
        self._idf = Idf(self.features(document).counts for document in documents)
        self._vectors.clear()

    def vector(self, text: str) -> Vector:
        found = self._vectors.get(text)
        if found is None:
            found = self._vectors[text] = Vector.of(self.features(text).counts, self.idf)
        return found
