/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Memory the receive path writes at line rate (the ring, the history
 * index, the flow slots) is mapped and faulted in when a capture opens:
 * the page faults, the zeroing and the kernel's search for huge pages are
 * paid once in pcap_activate() instead of in the receive thread while
 * packets arrive, and a machine without the memory says so there, as an
 * error, instead of killing the application later.
 */
#ifndef FS_MEM_H
#define FS_MEM_H

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23	/* Linux 5.14 */
#endif

/* len bytes of zeroed, private, resident memory (huge pages where the
 * kernel has them); NULL with errno set when they cannot be had. */
static inline void *fs_map_resident(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	/* fewer TLB misses; a hint only */
	(void)madvise(p, len, MADV_HUGEPAGE);
	/* not inherited by a child (the privileged helper, privsep.c, or
	 * one the application forks): the fork then neither copies it nor
	 * makes each later write by the receive thread a copy-on-write
	 * fault while the child lives */
	(void)madvise(p, len, MADV_DONTFORK);
	if (madvise(p, len, MADV_POPULATE_WRITE) != 0) {
		int e = errno;

		if (e == EINVAL) {
			/* an older kernel: touch every page instead */
			long pg = sysconf(_SC_PAGESIZE);

			for (size_t off = 0; off < len; off += (size_t)pg)
				((volatile char *)p)[off] = 0;
			return p;
		}
		munmap(p, len);
		errno = e == EFAULT || e == EAGAIN ? ENOMEM : e;
		return NULL;
	}
	return p;
}

#endif
