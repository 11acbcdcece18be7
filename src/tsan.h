/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Hand-off annotations for ThreadSanitizer. A feeder thread passes mbufs to
 * a receive thread through DPDK's ring device, and the receive thread gives
 * them back through the mempool; both paths run inside DPDK's own shared
 * libraries, which are not instrumented, so TSan cannot see that they order
 * the two threads. These calls tell it, one mbuf at a time. In any other
 * build they are empty.
 */
#ifndef FS_TSAN_H
#define FS_TSAN_H

#include <rte_mbuf.h>

#if defined(__SANITIZE_THREAD__)
#define FS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define FS_TSAN 1
#endif
#endif

#ifdef FS_TSAN
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);

/* The writes to every segment of m[0..n) are done: they happen before
 * whoever takes the mbufs with fs_mbufs_taken(). */
static inline void fs_mbufs_given(struct rte_mbuf *const *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *s = m[i], *next;

		for (; s != NULL; s = next) {
			next = s->next;	/* not after the release */
			__tsan_release(s);
		}
	}
}

static inline void fs_mbufs_taken(struct rte_mbuf *const *m, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		for (struct rte_mbuf *s = m[i]; s != NULL; s = s->next)
			__tsan_acquire(s);
}
#else
static inline void fs_mbufs_given(struct rte_mbuf *const *m, unsigned n)
{
	(void)m;
	(void)n;
}

static inline void fs_mbufs_taken(struct rte_mbuf *const *m, unsigned n)
{
	(void)m;
	(void)n;
}
#endif

#endif
