/* SPDX-License-Identifier: MIT */
/*
 * ktls_txq.c - what the kernel's TLS layer holds back from TCP (ktls.h).
 *
 * TCP's stream length (snd_una + SIOCOUTQ, which is write_seq) is read as
 * tcpi_bytes_acked + SIOCOUTQ in two calls. An acknowledgement between
 * them would make the sum look larger than it is, so the acknowledged
 * count is read on both sides of the ioctl and the pair used only when
 * they agree. A socket that can no longer send (reset, or its FIN
 * already sent) answers -ENOTCONN: there is nothing left to wait for.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include "ktls.h"

#define STABLE_TRIES 8

unsigned ktls_record_overhead(int version, unsigned cipher_type)
{
	const struct ktls_cipher *c = ktls_cipher_by_kernel_type(cipher_type);
	unsigned n;

	if (!c)
		return 0;
	n = 5 + c->tag_len;	/* header, tag */
	if (version == TLS1_3_VERSION)
		n += 1;		/* the inner content type */
	else if (version == TLS1_2_VERSION)
		n += c->salt_len ? c->iv_len : 0; /* GCM/CCM explicit nonce */
	else
		return 0;
	return n;
}

static int tcp_stream_len(int fd, uint64_t *len)
{
	for (int i = 0; i < STABLE_TRIES; i++) {
		struct ktls_tcp_info a, b;
		socklen_t la = sizeof(a), lb = sizeof(b);
		int outq;

		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &a, &la) < 0 ||
		    ioctl(fd, SIOCOUTQ, &outq) < 0 ||
		    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &b, &lb) < 0)
			return -errno;
		if (la < sizeof(a) || lb < sizeof(b) || outq < 0)
			return -EOPNOTSUPP;	/* a kernel before 4.1 */
		/* reset, or shut down: nothing more will be sent */
		if (b.glibc.tcpi_state != TCP_ESTABLISHED &&
		    b.glibc.tcpi_state != TCP_CLOSE_WAIT)
			return -ENOTCONN;
		if (a.tcpi_bytes_acked == b.tcpi_bytes_acked) {
			*len = a.tcpi_bytes_acked + (uint64_t)outq;
			return 0;
		}
	}
	return -EAGAIN;
}

int ktls_txq_start(struct ktls_txq *q, int fd)
{
	struct ktls_info info;
	int rc;

	if (!q)
		return -EINVAL;
	memset(q, 0, sizeof(*q));
	rc = ktls_get_info(fd, TLS_TX, &info);
	if (rc < 0)
		return rc;
	q->overhead = ktls_record_overhead(info.version, info.cipher_type);
	if (!q->overhead)
		return -EOPNOTSUPP;
	q->seq0 = info.rec_seq;
	rc = tcp_stream_len(fd, &q->tcp0);
	if (rc < 0)
		return rc;
	q->valid = true;
	return 0;
}

int ktls_txq_rekey(struct ktls_txq *q, int fd)
{
	struct ktls_info info;
	int rc;

	if (!q->valid)
		return 0;
	rc = ktls_get_info(fd, TLS_TX, &info);
	if (rc < 0) {
		q->valid = false;	/* cannot tell any more */
		return rc;
	}
	q->records += info.rec_seq - q->seq0;
	q->seq0 = 0;
	return 0;
}

int ktls_txq_held(const struct ktls_txq *q, int fd, uint64_t *held)
{
	struct ktls_info info;
	uint64_t want, have;
	int rc;

	*held = 0;
	if (!q || !q->valid)
		return 0;
	rc = ktls_get_info(fd, TLS_TX, &info);
	if (rc < 0)
		return rc;
	rc = tcp_stream_len(fd, &have);
	if (rc < 0)
		return rc;
	want = q->tcp0 + q->plain +
	       (q->records + info.rec_seq - q->seq0) * q->overhead;
	*held = want > have ? want - have : 0;
	return 0;
}
