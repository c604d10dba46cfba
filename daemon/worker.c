/* SPDX-License-Identifier: MIT */
#include "worker.h"
#include "log.h"
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define PIPE_POOL 32		/* empty pipes kept per worker */
#define PIPE_SIZE (256 * 1024)	/* F_SETPIPE_SZ: 4 records per syscall */
#define BUF_POOL 16		/* free relay buffers kept per worker */

struct wpriv {
	struct worker pub;
	int pipes[PIPE_POOL][2];
	int npipes;
	void *bufs[BUF_POOL];
	int nbufs;
	pthread_t th;
	int efd;
	struct ev_watch ew;
	pthread_mutex_t lock;	/* inbox and the live list */
	struct conn *inbox;
	struct conn *live;	/* doubly linked through next/prev */
	struct conn *dead;	/* closed, freed after the batch */
	struct conn *soon;	/* waiting for worker_soon()'s time */
	size_t nlive;
	int stop;		/* atomic: 1 = finish */
	uint64_t stop_at;	/* atomic: then close what is left */
	uint64_t last_tick;
};

static struct wpriv *workers;
static int nworkers;
static unsigned next_worker;

static struct wpriv *wp(struct worker *w)
{
	return (struct wpriv *)w;
}

int worker_pipe_get(struct worker *w, int fds[2])
{
	struct wpriv *p = wp(w);

	if (p->npipes) {
		p->npipes--;
		fds[0] = p->pipes[p->npipes][0];
		fds[1] = p->pipes[p->npipes][1];
		return 0;
	}
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	fcntl(fds[0], F_SETPIPE_SZ, PIPE_SIZE);	/* a hint: fine if refused */
	return 0;
}

void worker_pipe_put(struct worker *w, int fds[2])
{
	struct wpriv *p = wp(w);

	if (p->npipes < PIPE_POOL) {
		p->pipes[p->npipes][0] = fds[0];
		p->pipes[p->npipes][1] = fds[1];
		p->npipes++;
	} else {
		close(fds[0]);
		close(fds[1]);
	}
	fds[0] = fds[1] = -1;
}

void *worker_buf_get(struct worker *w)
{
	struct wpriv *p = wp(w);

	return p->nbufs ? p->bufs[--p->nbufs] : malloc(WORKER_BUF);
}

void worker_buf_put(struct worker *w, void *buf)
{
	struct wpriv *p = wp(w);

	if (buf && p->nbufs < BUF_POOL)
		p->bufs[p->nbufs++] = buf;
	else
		free(buf);
}

static void bufs_free(struct wpriv *p)
{
	while (p->nbufs)
		free(p->bufs[--p->nbufs]);
}

void worker_soon(struct worker *w, struct conn *c, unsigned ms)
{
	struct wpriv *p = wp(w);

	if (!c->soon_at) {
		c->soon_next = p->soon;
		p->soon = c;
	}
	c->soon_at = now_ms() + ms;
}

/* Off the timer list (a closed connection is freed after the batch). */
static void soon_del(struct wpriv *p, struct conn *c)
{
	struct conn **pp;

	if (!c->soon_at)
		return;
	for (pp = &p->soon; *pp; pp = &(*pp)->soon_next) {
		if (*pp == c) {
			*pp = c->soon_next;
			break;
		}
	}
	c->soon_next = NULL;
	c->soon_at = 0;
}

/* Milliseconds until the first worker_soon() time, at most CAP. */
static int soon_wait(struct wpriv *p, int cap)
{
	uint64_t now = now_ms();
	struct conn *c;

	for (c = p->soon; c; c = c->soon_next) {
		if (c->soon_at <= now)
			return 0;
		if (c->soon_at - now < (uint64_t)cap)
			cap = (int)(c->soon_at - now);
	}
	return cap;
}

static void run_soon(struct wpriv *p)
{
	struct conn **pp = &p->soon, *c, *next, *due = NULL;

	/* Take the due ones off first, in one walk: conn_soon() may ask
	 * again. */
	while ((c = *pp)) {
		if (c->soon_at > p->pub.now) {
			pp = &c->soon_next;
			continue;
		}
		*pp = c->soon_next;
		c->soon_at = 0;
		c->soon_next = due;
		due = c;
	}
	for (c = due; c; c = next) {
		next = c->soon_next;
		c->soon_next = NULL;
		conn_soon(c);
	}
}

void worker_conn_done(struct worker *w, struct conn *c)
{
	struct wpriv *p = wp(w);

	soon_del(p, c);
	pthread_mutex_lock(&p->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		p->live = c->next;
	if (c->next)
		c->next->prev = c->prev;
	p->nlive--;
	pthread_mutex_unlock(&p->lock);
	c->next = p->dead;
	c->prev = NULL;
	p->dead = c;
	__atomic_sub_fetch(&conns_active, 1, __ATOMIC_RELAXED);
}

static void adopt(struct wpriv *p, struct conn *c)
{
	pthread_mutex_lock(&p->lock);
	c->prev = NULL;
	c->next = p->live;
	if (p->live)
		p->live->prev = c;
	p->live = c;
	p->nlive++;
	pthread_mutex_unlock(&p->lock);
	conn_start(c, &p->pub);
}

static void on_mail(struct ev_watch *w, uint32_t events)
{
	struct wpriv *p = w->arg;
	struct conn *c, *next;
	uint64_t v;

	if (read(p->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&p->lock);
	c = p->inbox;
	p->inbox = NULL;
	pthread_mutex_unlock(&p->lock);
	for (; c; c = next) {
		next = c->next;
		adopt(p, c);
	}
}

static void reap(struct wpriv *p)
{
	while (p->dead) {
		struct conn *c = p->dead;

		p->dead = c->next;
		conn_free(c);
	}
}

static void tick(struct wpriv *p)
{
	struct conn *c, *next;

	for (c = p->live; c; c = next) {
		next = c->next;	/* conn_tick may close c */
		conn_tick(c, p->pub.now);
	}
}

/* Run until told to stop and done; returns when the worker may exit. */
static void loop(struct wpriv *p, int inline_mode)
{
	for (;;) {
		int stop = __atomic_load_n(&p->stop, __ATOMIC_ACQUIRE);
		int rc;

		rc = ev_run_once(p->pub.loop, soon_wait(p, stop ? 100 : 1000));
		if (rc < 0) {
			logm(LOG_ERR, "worker %d: event loop: %s", p->pub.idx,
			     strerror(-rc));
			break;
		}
		p->pub.now = now_ms();
		run_soon(p);
		reap(p);
		if (p->pub.now - p->last_tick >= 1000) {
			p->last_tick = p->pub.now;
			tick(p);
			reap(p);
		}
		if (inline_mode && !p->nlive)
			break;
		if (stop) {
			/* Let transfers finish; what is quiet goes now. */
			struct conn *c, *next;

			for (c = p->live; c; c = next) {
				next = c->next;
				if (conn_quiet_ms(c, p->pub.now) >= 1000)
					conn_close(c, "daemon shutdown", 0);
			}
			reap(p);
			if (!p->nlive)
				break;
			if (p->pub.now >= __atomic_load_n(&p->stop_at,
							  __ATOMIC_RELAXED)) {
				while (p->live)
					conn_close(p->live, "daemon shutdown",
						   1);
				reap(p);
				break;
			}
		}
	}
}

static void *worker_main(void *arg)
{
	loop(arg, 0);
	bufs_free(arg);
	return NULL;
}

static int wpriv_init(struct wpriv *p, int idx)
{
	int rc;

	p->pub.idx = idx;
	pthread_mutex_init(&p->lock, NULL);
	rc = ev_loop_new(&p->pub.loop);
	if (rc)
		return rc;
	p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (p->efd < 0)
		return -errno;
	ev_watch_init(&p->ew, p->efd, on_mail, p);
	rc = ev_watch_set(p->pub.loop, &p->ew, EV_READ);
	p->pub.now = p->last_tick = now_ms();
	return rc;
}

int workers_start(int n)
{
	sigset_t all, old;
	int i, rc = 0;

	workers = calloc(n, sizeof(*workers));
	if (!workers)
		return -ENOMEM;
	/* Workers take no signals: the main thread reads them. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		rc = wpriv_init(&workers[i], i);
		if (!rc)
			rc = -pthread_create(&workers[i].th, NULL, worker_main,
					     &workers[i]);
		if (rc)
			break;
		nworkers++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return nworkers == n ? 0 : rc;
}

int workers_count(void)
{
	return nworkers;
}

void workers_dispatch(struct conn *c)
{
	struct wpriv *p = &workers[next_worker++ % nworkers];
	uint64_t one = 1;

	__atomic_add_fetch(&conns_active, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&p->lock);
	c->next = p->inbox;
	p->inbox = c;
	pthread_mutex_unlock(&p->lock);
	if (write(p->efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		logm(LOG_ERR, "worker %d: cannot wake: %s", p->pub.idx,
		     strerror(errno));
}

void workers_stop(uint64_t grace_ms)
{
	uint64_t one = 1;
	int i;

	for (i = 0; i < nworkers; i++) {
		__atomic_store_n(&workers[i].stop_at, now_ms() + grace_ms,
				 __ATOMIC_RELAXED);
		__atomic_store_n(&workers[i].stop, 1, __ATOMIC_RELEASE);
		if (write(workers[i].efd, &one, sizeof(one)) < 0)
			continue;
	}
}

void workers_join(void)
{
	int i;

	for (i = 0; i < nworkers; i++)
		pthread_join(workers[i].th, NULL);
}

void workers_foreach(void (*fn)(const struct conn *c, void *arg), void *arg)
{
	int i;

	for (i = 0; i < nworkers; i++) {
		struct conn *c;

		pthread_mutex_lock(&workers[i].lock);
		for (c = workers[i].live; c; c = c->next)
			fn(c, arg);
		pthread_mutex_unlock(&workers[i].lock);
	}
}

void worker_run_inline(struct conn *c)
{
	struct wpriv p;

	memset(&p, 0, sizeof(p));
	if (wpriv_init(&p, 0)) {
		logm(LOG_ERR, "cannot set up the event loop");
		return;
	}
	__atomic_add_fetch(&conns_active, 1, __ATOMIC_RELAXED);
	adopt(&p, c);
	reap(&p);
	if (p.nlive)
		loop(&p, 1);
	bufs_free(&p);
	ev_loop_free(p.pub.loop);
	close(p.efd);
}
