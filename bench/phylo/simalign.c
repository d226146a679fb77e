/* simalign: writes a simulated alignment in PHYLIP format to stdout, the
 * same bytes for the same arguments (own RNG; no floating point in the
 * output; the only libm call is exp(), for the change probabilities).
 *
 *   simalign dna|aa NTAXA NSITES SEED
 *
 * A random binary tree is built by joining random pairs of lineages (a
 * coalescent topology) with branch lengths uniform in [0.01, 0.06]; a random
 * root sequence evolves down it under the Jukes-Cantor model (4 or 20
 * states) with one of four rates per site (0.2, 0.6, 1.2, 2.0), so the
 * alignment has phylogenetic signal and almost every column is a distinct
 * site pattern (memory of PhyML and RAxML grows with taxa x patterns).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unif(void) /* [0, 1) with 53 bits */
{
    return (rnd() >> 11) * (1.0 / 9007199254740992.0);
}

static unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

int main(int argc, char **argv)
{
    static const char dna[] = "ACGT";
    static const char aa[] = "ARNDCQEGHILKMFPSTWYV";
    static const double rates[4] = {0.2, 0.6, 1.2, 2.0};
    if (argc != 5 || (strcmp(argv[1], "dna") && strcmp(argv[1], "aa"))) {
        fprintf(stderr, "usage: simalign dna|aa NTAXA NSITES SEED\n");
        return 2;
    }
    const char *alpha = strcmp(argv[1], "dna") == 0 ? dna : aa;
    int k = (int)strlen(alpha);
    long n = atol(argv[2]), m = atol(argv[3]);
    rng_state = strtoull(argv[4], NULL, 10);
    if (n < 4 || n > 99999 || m < 1) {
        fprintf(stderr, "simalign: need 4 <= NTAXA <= 99999 and NSITES >= 1\n");
        return 2;
    }
    /* nodes 0..n-1 are leaves, n..2n-2 inner, 2n-2 the root */
    long nodes = 2 * n - 1;
    long *parent = malloc(nodes * sizeof *parent);
    double *len = malloc(nodes * sizeof *len);
    long *live = malloc(n * sizeof *live);
    unsigned char *rate = malloc(m);
    unsigned char **seq = calloc(nodes, sizeof *seq);
    if (!parent || !len || !live || !rate || !seq) {
        perror("simalign");
        return 1;
    }
    for (long i = 0; i < n; i++)
        live[i] = i;
    long nlive = n;
    for (long v = n; v < nodes; v++) {
        long a = below(nlive);
        long x = live[a];
        live[a] = live[--nlive];
        long b = below(nlive);
        long y = live[b];
        live[b] = v;
        parent[x] = parent[y] = v;
        len[x] = 0.01 + 0.05 * unif();
        len[y] = 0.01 + 0.05 * unif();
    }
    parent[nodes - 1] = -1;
    for (long s = 0; s < m; s++)
        rate[s] = (unsigned char)below(4);
    /* parents have larger numbers than their children: go down from the root
     * (every node's sequence is kept: (2 NTAXA - 1) x NSITES bytes) */
    for (long v = nodes - 1; v >= 0; v--) {
        seq[v] = malloc(m);
        if (!seq[v]) {
            perror("simalign");
            return 1;
        }
        if (parent[v] < 0) {
            for (long s = 0; s < m; s++)
                seq[v][s] = (unsigned char)below(k);
            continue;
        }
        const unsigned char *up = seq[parent[v]];
        double pchange[4];
        for (int r = 0; r < 4; r++)
            pchange[r] = (k - 1.0) / k * (1.0 - exp(-(double)k / (k - 1.0) * len[v] * rates[r]));
        for (long s = 0; s < m; s++) {
            unsigned char c = up[s];
            if (unif() < pchange[rate[s]])
                c = (unsigned char)((c + 1 + below(k - 1)) % k);
            seq[v][s] = c;
        }
    }
    printf("%ld %ld\n", n, m);
    char *line = malloc(m + 1);
    for (long i = 0; i < n; i++) {
        for (long s = 0; s < m; s++)
            line[s] = alpha[seq[i][s]];
        line[m] = 0;
        printf("t%05ld    %s\n", i + 1, line);
    }
    return ferror(stdout) || fflush(stdout) ? 1 : 0;
}
