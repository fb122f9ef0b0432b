// "Did you mean …?" for a mistyped name (a spec key, a command-line option): the candidate it
// most likely meant, or none when nothing is close enough to be worth suggesting.

/**
 * The candidate `word` most likely meant: one it is the beginning of (3 letters at least, as
 * 'vagrant' for 'vagrant_ssh'), else the nearest within a small edit distance.
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const prefixed = candidates.find((c) => word.length >= 3 && c.startsWith(lower));
  if (prefixed !== undefined) {
    return prefixed;
  }
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(lower, candidate.toLowerCase());
    if (best === undefined || distance < best.distance) {
      best = { candidate, distance };
    }
  }
  const close =
    best !== undefined &&
    best.distance <= Math.max(2, Math.floor(word.length / 3)) &&
    best.distance < word.length;
  return close ? best?.candidate : undefined;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions ('pyhton'). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
