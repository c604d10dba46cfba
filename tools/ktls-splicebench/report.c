/* SPDX-License-Identifier: MIT */
/*
 * report.c - the results of ktls-splicebench: each run's verdict, the
 * medians and ratios of every mode and sink, as a table or JSON.
 */
#include "splicebench.h"
#include "tool.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB		(1024.0 * 1024 * 1024)

struct result results[NSINKS][NMODES][MAX_RUNS];
unsigned char expect_md[32];
char expect_hex[65];

static double cpu_total(const struct result *x)
{
	return x->thr_user + x->thr_sys + x->wrk_user + x->wrk_sys;
}

static double per_gib(double v)
{
	return v / ((double)o.size / GIB);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of @f over the runs of (@s, @m) that passed; NAN when none. */
static double median(enum sink s, enum mode m,
		     double (*f)(enum sink, enum mode, unsigned))
{
	double v[MAX_RUNS];
	unsigned n = 0;

	for (unsigned i = 0; i < o.runs; i++) {
		double x;

		if (!results[s][m][i].ok)
			continue;
		x = f(s, m, i);
		if (x == x)	/* not NAN */
			v[n++] = x;
	}
	if (!n)
		return 0.0 / 0.0;
	qsort(v, n, sizeof(v[0]), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static double f_wall(enum sink s, enum mode m, unsigned i)
{ return R(s, m, i)->wall; }
static double f_mbps(enum sink s, enum mode m, unsigned i)
{ return (double)o.size / 1e6 / R(s, m, i)->wall; }
static double f_thr_user(enum sink s, enum mode m, unsigned i)
{ return per_gib(R(s, m, i)->thr_user); }
static double f_thr_sys(enum sink s, enum mode m, unsigned i)
{ return per_gib(R(s, m, i)->thr_sys); }
static double f_wrk_user(enum sink s, enum mode m, unsigned i)
{ return per_gib(R(s, m, i)->wrk_user); }
static double f_wrk_sys(enum sink s, enum mode m, unsigned i)
{ return per_gib(R(s, m, i)->wrk_sys); }
static double f_cpu(enum sink s, enum mode m, unsigned i)
{ return per_gib(cpu_total(R(s, m, i))); }
static double f_csw(enum sink s, enum mode m, unsigned i)
{ return per_gib((double)R(s, m, i)->csw); }
/* ratios to the epoll mode of the same round */
static double f_cpu_ratio(enum sink s, enum mode m, unsigned i)
{
	const struct result *b = R(s, M_EPOLL, i);

	return b->ok && cpu_total(b) > 0 ?
	       cpu_total(R(s, m, i)) / cpu_total(b) : 0.0 / 0.0;
}
static double f_wall_ratio(enum sink s, enum mode m, unsigned i)
{
	const struct result *b = R(s, M_EPOLL, i);

	return b->ok && b->wall > 0 ? R(s, m, i)->wall / b->wall : 0.0 / 0.0;
}

static void json_num(const char *key, double v, const char *sep)
{
	if (v == v)
		printf("\"%s\": %.4g%s", key, v, sep);
	else
		printf("\"%s\": null%s", key, sep);
}

void print_json(const char *kernel)
{
	bool first = true;

	printf("{\"tool\": \"ktls-splicebench\", \"kernel\": \"%s\", "
	       "\"ktls\": %s, \"size\": %" PRIu64 ", \"runs\": %u, "
	       "\"sha256\": \"%s\",\n \"results\": [",
	       kernel, o.plain ? "false" : "true", o.size, o.runs, expect_hex);
	for (int s = 0; s < NSINKS; s++) {
		for (int m = 0; m < NMODES; m++) {
			unsigned passed = 0;

			if (!(o.sinks & 1u << s) || !(o.modes & 1u << m))
				continue;
			printf("%s\n  {\"sink\": \"%s\", \"mode\": \"%s\", "
			       "\"letter\": \"%s\", \"runs\": [",
			       first ? "" : ",", sink_names[s], mode_names[m],
			       mode_letters[m]);
			first = false;
			for (unsigned i = 0; i < o.runs; i++) {
				const struct result *x = R(s, m, i);

				passed += x->ok;
				printf("%s\n   {\"ok\": %s, ", i ? "," : "",
				       x->ok ? "true" : "false");
				if (!x->ran) {
					printf("\"skipped\": \"%s\"}", x->why);
					continue;
				}
				if (!x->ok)
					printf("\"error\": \"%s\", ", x->why);
				printf("\"bytes\": %" PRIu64 ", \"sha256\": \"%s\", ",
				       x->sunk, x->sha);
				json_num("wall_s", x->wall, ", ");
				json_num("thread_user_s", x->thr_user, ", ");
				json_num("thread_sys_s", x->thr_sys, ", ");
				json_num("workers_user_s", x->wrk_user, ", ");
				json_num("workers_sys_s", x->wrk_sys, ", ");
				printf("\"context_switches\": %ld}", x->csw);
			}
			printf("],\n   \"passed\": %u, \"median\": {", passed);
			json_num("wall_s", median(s, m, f_wall), ", ");
			json_num("mbps", median(s, m, f_mbps), ", ");
			json_num("thread_user_s_per_gib", median(s, m, f_thr_user), ", ");
			json_num("thread_sys_s_per_gib", median(s, m, f_thr_sys), ", ");
			json_num("workers_user_s_per_gib", median(s, m, f_wrk_user), ", ");
			json_num("workers_sys_s_per_gib", median(s, m, f_wrk_sys), ", ");
			json_num("cpu_s_per_gib", median(s, m, f_cpu), ", ");
			json_num("context_switches_per_gib", median(s, m, f_csw), ", ");
			json_num("cpu_ratio_vs_epoll", median(s, m, f_cpu_ratio), ", ");
			json_num("wall_ratio_vs_epoll", median(s, m, f_wall_ratio), "");
			printf("}}");
		}
	}
	printf("\n]}\n");
}

/* One column: @v with @prec decimals, or "-". */
static void cell(double v, int prec)
{
	if (v == v)
		printf(" %8.*f", prec, v);
	else
		printf(" %8s", "-");
}

void print_table(const char *kernel)
{
	printf("ktls-splicebench: kernel %s, %s, %.0f MiB per run, %u run%s\n",
	       kernel, o.plain ? "plain TCP (no kTLS)" :
	       "kTLS RX in (TLS 1.3 AES-128-GCM)", (double)o.size / (1 << 20),
	       o.runs, o.runs == 1 ? "" : "s");
	printf("medians; CPU in s/GiB: relay thread user+sys, io-wq workers "
	       "user+sys; ratios to (a) in the same round\n\n");
	printf("%-6s %-35s %5s %8s %8s %8s %8s %8s %8s %8s %8s\n",
	       "sink", "mode", "ok", "MB/s", "thr usr", "thr sys", "wrk usr",
	       "wrk sys", "CPU/GiB", "CPU x", "wall x");
	for (int s = 0; s < NSINKS; s++) {
		for (int m = 0; m < NMODES; m++) {
			unsigned passed = 0;
			char name[48], ok[16];

			if (!(o.sinks & 1u << s) || !(o.modes & 1u << m))
				continue;
			for (unsigned i = 0; i < o.runs; i++)
				passed += R(s, m, i)->ok;
			snprintf(name, sizeof(name), "(%s) %s", mode_letters[m],
				 mode_desc[m]);
			snprintf(ok, sizeof(ok), "%u/%u", passed, o.runs);
			printf("%-6s %-35s %5s", sink_names[s], name, ok);
			cell(median(s, m, f_mbps), 1);
			cell(median(s, m, f_thr_user), 3);
			cell(median(s, m, f_thr_sys), 3);
			cell(median(s, m, f_wrk_user), 3);
			cell(median(s, m, f_wrk_sys), 3);
			cell(median(s, m, f_cpu), 3);
			cell(median(s, m, f_cpu_ratio), 2);
			cell(median(s, m, f_wall_ratio), 2);
			printf("\n");
		}
	}
	for (int s = 0; s < NSINKS; s++)
		for (int m = 0; m < NMODES; m++)
			for (unsigned i = 0; i < o.runs; i++) {
				const struct result *x = R(s, m, i);

				if ((o.sinks & 1u << s) && (o.modes & 1u << m) &&
				    !x->ok)
					printf("%s (%s) run %u: %s: %s\n",
					       sink_names[s], mode_letters[m],
					       i + 1, x->ran ? "FAILED" : "skipped",
					       x->why);
			}
	printf("\nsha256 of the stream: %s\n", expect_hex);
}

/* Fill @x from the finished run @r. */
void judge(const struct run *r, struct result *x)
{
	x->ran = true;
	x->sunk = r->sunk;
	sha256_hex(r->sink_md, x->sha);
	x->wall = (r->sink_end > r->relay_end ? r->sink_end : r->relay_end) -
		  r->t0;
	x->thr_user = r->thr.user;
	x->thr_sys = r->thr.sys;
	x->wrk_user = r->wrk.user;
	x->wrk_sys = r->wrk.sys;
	x->csw = r->csw;
	if (r->err == -ETIMEDOUT)
		snprintf(x->why, sizeof(x->why), "relay: time limit (%g s) "
			 "reached after %" PRIu64 " bytes", o.time_limit,
			 r->moved);
	else if (r->err)
		snprintf(x->why, sizeof(x->why), "relay: %s: %s",
			 r->err_what, strerror(-r->err));
	else if (r->prod_err)
		snprintf(x->why, sizeof(x->why), "producer: %s",
			 strerror(-r->prod_err));
	else if (r->sink_err)
		snprintf(x->why, sizeof(x->why), "sink: %s",
			 strerror(-r->sink_err));
	else if (r->sunk != o.size || r->moved != o.size)
		snprintf(x->why, sizeof(x->why), "relayed %" PRIu64 ", sink got "
			 "%" PRIu64 " of %" PRIu64 " bytes", r->moved, r->sunk,
			 o.size);
	else if (memcmp(r->sink_md, expect_md, 32))
		snprintf(x->why, sizeof(x->why), "SHA-256 mismatch at the sink");
	else
		x->ok = true;
}
