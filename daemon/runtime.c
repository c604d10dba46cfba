/* SPDX-License-Identifier: MIT */
#include "runtime.h"
#include "tls.h"

#include <pthread.h>
#include <sys/resource.h>

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct config *current;

long max_clients;
uint64_t conns_active;
uint64_t conns_total;
uint64_t started_at;

struct config *cfg_get(struct config *cfg)
{
	__atomic_add_fetch(&cfg->refs, 1, __ATOMIC_RELAXED);
	return cfg;
}

void cfg_put(struct config *cfg)
{
	if (!cfg || __atomic_sub_fetch(&cfg->refs, 1, __ATOMIC_ACQ_REL))
		return;
	tls_config_free(cfg);
	config_free(cfg);
}

long runtime_max_clients(void)
{
	struct rlimit rl;
	long n;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return 500;
	n = (long)rl.rlim_cur;
	return n < 256 ? (n - 6) / 2 : n * 125 / 256;
}

void runtime_set_current(struct config *cfg)
{
	struct config *old;

	pthread_mutex_lock(&current_lock);
	old = current;
	current = cfg ? cfg_get(cfg) : NULL;
	pthread_mutex_unlock(&current_lock);
	cfg_put(old);
}

struct config *runtime_get_current(void)
{
	struct config *cfg;

	pthread_mutex_lock(&current_lock);
	cfg = current ? cfg_get(current) : NULL;
	pthread_mutex_unlock(&current_lock);
	return cfg;
}
