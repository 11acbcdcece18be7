/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The threads flowscope starts inside the application: each with every
 * signal blocked, so that the application's signals (tcpdump's SIGINT,
 * SIGALRM, ...) go to its own threads and to no thread of ours, nor to
 * any thread a library starts from one of ours (the EAL's, the NATS
 * client's).
 */
#ifndef FS_THREAD_H
#define FS_THREAD_H

#include <pthread.h>

/* Start thread t running fn(arg) with every signal blocked. Returns 0 or
 * an errno value (pthread_create's). */
int fs_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
