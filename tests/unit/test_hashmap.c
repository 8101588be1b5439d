/* tests/unit/test_hashmap.c - the open-addressing map and hash_bytes. */
#include <stdint.h>

#include "common/hashmap.h"
#include "test.h"

static void *ival(size_t i)
{
    return (void *)(uintptr_t)(i + 1);
}

TEST(hashmap_basic_put_get_del)
{
    hashmap_t m;
    hashmap_init(&m);
    ASSERT_NULL(hashmap_get(&m, "a"));
    ASSERT_NULL(hashmap_del(&m, "a"));
    ASSERT_NULL(hashmap_put(&m, "a", ival(1)));
    ASSERT_NULL(hashmap_put(&m, "b", ival(2)));
    ASSERT_TRUE(hashmap_put(&m, "a", ival(3)) == ival(1)); /* replace returns the old value */
    ASSERT_EQ(hashmap_len(&m), 2);
    ASSERT_TRUE(hashmap_get(&m, "a") == ival(3));
    ASSERT_TRUE(hashmap_del(&m, "a") == ival(3));
    ASSERT_NULL(hashmap_get(&m, "a"));
    ASSERT_EQ(hashmap_len(&m), 1);
    ASSERT_NULL(hashmap_put(&m, "", ival(9))); /* the empty key is a key */
    ASSERT_TRUE(hashmap_get(&m, "") == ival(9));
    hashmap_fini(&m, NULL);
    ASSERT_EQ(hashmap_len(&m), 0);
}

TEST(hashmap_keys_are_copied)
{
    hashmap_t m;
    hashmap_init(&m);
    char key[8] = "k1";
    hashmap_put(&m, key, ival(1));
    key[1] = '2';
    ASSERT_TRUE(hashmap_get(&m, "k1") == ival(1));
    ASSERT_NULL(hashmap_get(&m, "k2"));
    hashmap_fini(&m, NULL);
}

static int freed;
static void count_free(void *v)
{
    freed += v != NULL;
}

TEST(hashmap_fini_frees_values)
{
    hashmap_t m;
    hashmap_init(&m);
    char k[16];
    for (size_t i = 0; i < 100; i++) {
        snprintf(k, sizeof(k), "k%zu", i);
        hashmap_put(&m, k, ival(i));
    }
    freed = 0;
    hashmap_fini(&m, count_free);
    ASSERT_EQ(freed, 100);
}

TEST(hashmap_million_inserts)
{
    enum { N = 1000000 };
    hashmap_t m;
    hashmap_init(&m);
    char k[32];
    for (size_t i = 0; i < N; i++) {
        snprintf(k, sizeof(k), "series-%zu", i);
        ASSERT_NULL(hashmap_put(&m, k, ival(i)));
    }
    ASSERT_EQ(hashmap_len(&m), N);
    ASSERT_TRUE(m.used * 10 <= m.cap * 7); /* load stays under 0.7 */
    for (size_t i = 0; i < N; i += 7) {
        snprintf(k, sizeof(k), "series-%zu", i);
        ASSERT_TRUE(hashmap_get(&m, k) == ival(i));
    }
    snprintf(k, sizeof(k), "series-%d", N);
    ASSERT_NULL(hashmap_get(&m, k));
    for (size_t i = 0; i < N; i += 2) {
        snprintf(k, sizeof(k), "series-%zu", i);
        ASSERT_TRUE(hashmap_del(&m, k) == ival(i));
    }
    ASSERT_EQ(hashmap_len(&m), N / 2);
    for (size_t i = 1; i < N; i += 2) {
        snprintf(k, sizeof(k), "series-%zu", i);
        ASSERT_TRUE(hashmap_get(&m, k) == ival(i));
    }
    hashmap_fini(&m, NULL);
}

/* Insert/delete churn must not fill the table with tombstones: it stays the same size. */
TEST(hashmap_tombstones_are_swept)
{
    hashmap_t m;
    hashmap_init(&m);
    char k[32];
    for (size_t i = 0; i < 100; i++) {
        snprintf(k, sizeof(k), "live-%zu", i);
        hashmap_put(&m, k, ival(i));
    }
    size_t cap = 0;
    for (size_t i = 0; i < 100000; i++) {
        snprintf(k, sizeof(k), "tmp-%zu", i);
        hashmap_put(&m, k, ival(i));
        ASSERT_TRUE(hashmap_del(&m, k) == ival(i));
        if (i == 1000) {
            cap = m.cap; /* at most one doubling to the rebuild target load */
        }
    }
    ASSERT_TRUE(cap <= 512);
    ASSERT_EQ(m.cap, cap);
    ASSERT_EQ(hashmap_len(&m), 100);
    for (size_t i = 0; i < 100; i++) {
        snprintf(k, sizeof(k), "live-%zu", i);
        ASSERT_TRUE(hashmap_get(&m, k) == ival(i));
    }
    hashmap_fini(&m, NULL);
}

TEST(hashmap_iterate_and_delete_current)
{
    hashmap_t m;
    hashmap_init(&m);
    char k[16];
    for (size_t i = 0; i < 1000; i++) {
        snprintf(k, sizeof(k), "%zu", i);
        hashmap_put(&m, k, ival(i));
    }
    size_t it = 0, seen = 0, sum = 0;
    const char *key;
    void *v;
    while (hashmap_next(&m, &it, &key, &v)) {
        seen++;
        sum += (size_t)(uintptr_t)v - 1;
        if (((uintptr_t)v & 1) == 0) {
            ASSERT_TRUE(hashmap_del(&m, key) == v);
        }
    }
    ASSERT_EQ(seen, 1000);
    ASSERT_EQ(sum, 999 * 1000 / 2);
    ASSERT_EQ(hashmap_len(&m), 500);
    hashmap_fini(&m, NULL);
}

TEST(hash_bytes_properties)
{
    const char *s = "the quick brown fox jumps over the lazy dog";
    size_t n = strlen(s);
    ASSERT_EQ(hash_bytes(s, n, 0), hash_bytes(s, n, 0));
    ASSERT_NE(hash_bytes(s, n, 0), hash_bytes(s, n, 1));
    /* Every length and every single-bit flip changes the hash. */
    uint64_t seen[64];
    for (size_t len = 0; len < n; len++) {
        seen[len] = hash_bytes(s, len, 0);
        for (size_t j = 0; j < len; j++) {
            ASSERT_NE(seen[len], seen[j]);
        }
    }
    char buf[64];
    memcpy(buf, s, n);
    uint64_t base = hash_bytes(buf, n, 0);
    for (size_t i = 0; i < n * 8; i++) {
        buf[i / 8] ^= (char)(1 << (i % 8));
        ASSERT_NE(hash_bytes(buf, n, 0), base);
        buf[i / 8] ^= (char)(1 << (i % 8));
    }
    ASSERT_NE(hash_bytes("\0", 1, 0), hash_bytes("", 0, 0));
}

/* Avalanche: flipping one input bit flips about half the output bits on average. */
TEST(hash_bytes_avalanche)
{
    unsigned char buf[24] = {0};
    long total = 0, trials = 0;
    for (int round = 0; round < 64; round++) {
        buf[round % 24] = (unsigned char)(round * 37 + 11);
        for (size_t len = 1; len <= sizeof(buf); len += 5) {
            uint64_t base = hash_bytes(buf, len, 0);
            for (size_t bit = 0; bit < len * 8; bit++) {
                buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                total += __builtin_popcountll(base ^ hash_bytes(buf, len, 0));
                buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
                trials++;
            }
        }
    }
    double avg = (double)total / (double)trials;
    ASSERT_TRUE(avg > 30.0 && avg < 34.0);
}
