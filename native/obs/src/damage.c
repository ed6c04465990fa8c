#include "damage.h"

_Static_assert(sizeof(((struct wlcap_frame_desc *)0)->damage) / sizeof(struct wlcap_rect) == WLCAP_MAX_DAMAGE,
		"the descriptor holds WLCAP_MAX_DAMAGE rectangles");

static struct wlcap_rect bounding_box(const struct wlcap_rect *a, uint32_t n_a, const struct wlcap_rect *b,
		uint32_t n_b)
{
	int64_t x1 = INT32_MAX, y1 = INT32_MAX, x2 = INT32_MIN, y2 = INT32_MIN;
	for (uint32_t i = 0; i < n_a + n_b; i++) {
		const struct wlcap_rect *r = i < n_a ? &a[i] : &b[i - n_a];
		x1 = r->x < x1 ? r->x : x1;
		y1 = r->y < y1 ? r->y : y1;
		x2 = (int64_t)r->x + r->width > x2 ? (int64_t)r->x + r->width : x2;
		y2 = (int64_t)r->y + r->height > y2 ? (int64_t)r->y + r->height : y2;
	}
	return (struct wlcap_rect){(int32_t)x1, (int32_t)y1, (int32_t)(x2 - x1), (int32_t)(y2 - y1)};
}

void damage_merge(struct wlcap_frame_desc *into, const struct wlcap_frame_desc *from)
{
	if (into->n_damage == 0 || from->n_damage == 0 || into->n_damage > WLCAP_MAX_DAMAGE ||
			from->n_damage > WLCAP_MAX_DAMAGE) {
		into->n_damage = 0; /* either one changed everything */
		return;
	}
	if (into->n_damage + from->n_damage <= WLCAP_MAX_DAMAGE) {
		for (uint32_t i = 0; i < from->n_damage; i++)
			into->damage[into->n_damage++] = from->damage[i];
		return;
	}
	into->damage[0] = bounding_box(into->damage, into->n_damage, from->damage, from->n_damage);
	into->n_damage = 1;
}

bool damage_clipped(const struct wlcap_frame_desc *frame, struct wlcap_rect *out, uint32_t *n_out)
{
	*n_out = 0;
	if (frame->n_damage == 0 || frame->n_damage > WLCAP_MAX_DAMAGE)
		return false;
	const int64_t width = frame->width, height = frame->height;
	int64_t area = 0;
	for (uint32_t i = 0; i < frame->n_damage; i++) {
		const struct wlcap_rect *r = &frame->damage[i];
		if (r->width < 0 || r->height < 0)
			return false;
		int64_t x1 = r->x < 0 ? 0 : r->x, y1 = r->y < 0 ? 0 : r->y;
		int64_t x2 = (int64_t)r->x + r->width, y2 = (int64_t)r->y + r->height;
		x2 = x2 > width ? width : x2;
		y2 = y2 > height ? height : y2;
		if (x2 <= x1 || y2 <= y1)
			continue; /* nothing of it inside the frame */
		out[(*n_out)++] = (struct wlcap_rect){(int32_t)x1, (int32_t)y1, (int32_t)(x2 - x1), (int32_t)(y2 - y1)};
		area += (x2 - x1) * (y2 - y1);
	}
	/* Rectangles merged from replaced frames may overlap: past half the frame, one whole copy is
	 * cheaper than copying some pixels twice. */
	return area * 2 <= width * height;
}
