// containers: standard C++ containers under load, with a deterministic
// digest per stage. Nothing printed depends on addresses or on the
// allocator, so the output with fsmem must equal the output without.
//
//   containers [SCALE]     SCALE multiplies the work (default 1)
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <list>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

struct Digest {
    uint64_t h = 0xCBF29CE484222325ull;
    void add(uint64_t v)
    {
        for (int i = 0; i < 8; i++) {
            h ^= (v >> (i * 8)) & 0xFF;
            h *= 0x100000001B3ull;
        }
    }
    void add(const std::string &s)
    {
        for (unsigned char c : s) {
            h ^= c;
            h *= 0x100000001B3ull;
        }
        add(s.size());
    }
};

struct Rng {
    uint64_t s;
    explicit Rng(uint64_t seed) : s(seed) {}
    uint64_t next()
    {
        s += 0x9E3779B97F4A7C15ull;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    uint64_t below(uint64_t n) { return next() % n; }
};

std::string word(Rng &r)
{
    static const char *const syll[] = { "ka", "to", "ri", "men", "sa", "lo", "phy",
                                        "gen", "ome", "tree", "x", "qu", "ay", "z" };
    std::string w;
    int n = 1 + static_cast<int>(r.below(5));
    for (int i = 0; i < n; i++)
        w += syll[r.below(sizeof syll / sizeof syll[0])];
    return w;
}

void report(const char *stage, const Digest &d, uint64_t count)
{
    std::printf("%-14s %016llx %llu\n", stage, static_cast<unsigned long long>(d.h),
                static_cast<unsigned long long>(count));
}

void stage_vectors(int scale)
{
    Rng r(1);
    Digest d;
    std::vector<std::vector<uint32_t>> vv;
    for (int i = 0; i < 2000 * scale; i++) {
        std::vector<uint32_t> v;
        size_t n = r.below(i % 100 == 0 ? 100000 : 300);
        for (size_t k = 0; k < n; k++)
            v.push_back(static_cast<uint32_t>(r.next()));
        std::sort(v.begin(), v.end());
        vv.push_back(std::move(v));
        if (vv.size() > 500) {
            const auto &old = vv[r.below(vv.size())];
            d.add(std::accumulate(old.begin(), old.end(), uint64_t(0)));
            vv.erase(vv.begin() + static_cast<long>(r.below(vv.size())));
        }
    }
    uint64_t total = 0;
    for (auto &v : vv) {
        d.add(v.size());
        if (!v.empty())
            d.add(v[v.size() / 2]);
        total += v.size();
    }
    report("vector", d, total);
}

void stage_strings_map(int scale)
{
    Rng r(2);
    Digest d;
    std::map<std::string, uint64_t> counts;
    std::string text;
    for (int i = 0; i < 300000 * scale; i++) {
        std::string w = word(r);
        counts[w] += static_cast<uint64_t>(i);
        if (i % 7 == 0) {
            text += w;
            text += ' ';
        }
        if (text.size() > (1u << 20)) {
            d.add(text.substr(text.size() / 3, 64));
            text.clear();
            text.shrink_to_fit();
        }
    }
    for (const auto &kv : counts) {
        d.add(kv.first);
        d.add(kv.second);
    }
    report("map<string>", d, counts.size());
}

void stage_unordered(int scale)
{
    Rng r(3);
    Digest d;
    std::unordered_map<uint64_t, std::vector<std::string>> um;
    for (int i = 0; i < 200000 * scale; i++) {
        uint64_t k = r.below(50000);
        auto &v = um[k];
        if (v.size() > 6 && r.below(2))
            v.erase(v.begin());
        else
            v.push_back(word(r) + std::to_string(i));
        if (i % 1000 == 999)
            um.erase(r.below(50000));
    }
    std::vector<uint64_t> keys;
    keys.reserve(um.size());
    for (const auto &kv : um)
        keys.push_back(kv.first);
    std::sort(keys.begin(), keys.end());
    for (uint64_t k : keys) {
        d.add(k);
        for (const auto &s : um[k])
            d.add(s);
    }
    report("unordered_map", d, keys.size());
}

void stage_list_set(int scale)
{
    Rng r(4);
    Digest d;
    std::list<std::string> l;
    std::set<uint64_t> s;
    for (int i = 0; i < 200000 * scale; i++) {
        if (l.size() < 20000 || r.below(3))
            l.push_back(std::string(1 + r.below(100), static_cast<char>('a' + i % 26)));
        else
            l.pop_front();
        s.insert(r.below(1u << 20));
        if (i % 5000 == 0) {
            std::list<std::string> other;
            for (int k = 0; k < 100; k++)
                other.push_front(word(r));
            other.sort();
            l.splice(l.end(), other);
        }
    }
    for (const auto &x : l)
        d.add(x);
    for (uint64_t v : s)
        if (v % 97 == 0)
            d.add(v);
    report("list/set", d, l.size() + s.size());
}

struct Node {
    uint64_t value;
    std::vector<std::shared_ptr<Node>> children;
    std::weak_ptr<Node> parent;
};

uint64_t tree_sum(const std::shared_ptr<Node> &n, Digest &d, int depth)
{
    uint64_t s = n->value;
    d.add(n->value + static_cast<uint64_t>(depth));
    for (const auto &c : n->children)
        s += tree_sum(c, d, depth + 1);
    return s;
}

void stage_shared(int scale)
{
    Rng r(5);
    Digest d;
    uint64_t nodes = 0;
    for (int round = 0; round < 20 * scale; round++) {
        auto root = std::make_shared<Node>();
        root->value = static_cast<uint64_t>(round);
        std::vector<std::shared_ptr<Node>> all{ root };
        for (int i = 0; i < 20000; i++) {
            auto parent = all[r.below(all.size())];
            auto c = std::make_shared<Node>();
            c->value = r.below(1000);
            c->parent = parent;
            parent->children.push_back(c);
            all.push_back(std::move(c));
        }
        // Prune some subtrees: their nodes die when the last owner goes.
        for (int i = 0; i < 50; i++) {
            auto &n = all[1 + r.below(all.size() - 1)];
            n->children.clear();
        }
        uint64_t alive = 0;
        for (const auto &n : all)
            alive += n.use_count() > 1;
        all.clear();
        d.add(tree_sum(root, d, 0));
        d.add(alive);
        nodes += alive;
    }
    report("shared_ptr", d, nodes);
}

} // namespace

int main(int argc, char **argv)
{
    int scale = argc > 1 ? std::atoi(argv[1]) : 1;
    if (scale < 1)
        scale = 1;
    stage_vectors(scale);
    stage_strings_map(scale);
    stage_unordered(scale);
    stage_list_set(scale);
    stage_shared(scale);
    std::printf("containers: done\n");
    return 0;
}
