package jwt

import (
	"container/list"
	"math"
	"time"
)

// lru is a fixed-size least-recently-used map. It is not safe for concurrent
// use; callers hold their own lock.
type lru[K comparable, V any] struct {
	size  int
	order *list.List // front = most recently used; values are *lruItem
	items map[K]*list.Element
}

type lruItem[K comparable, V any] struct {
	key K
	val V
}

func newLRU[K comparable, V any](size int) *lru[K, V] {
	return &lru[K, V]{size: max(size, 1), order: list.New(), items: make(map[K]*list.Element)}
}

func (l *lru[K, V]) get(k K) (V, bool) {
	if e, ok := l.items[k]; ok {
		l.order.MoveToFront(e)
		return e.Value.(*lruItem[K, V]).val, true
	}
	var zero V
	return zero, false
}

func (l *lru[K, V]) add(k K, v V) {
	if e, ok := l.items[k]; ok {
		e.Value.(*lruItem[K, V]).val = v
		l.order.MoveToFront(e)
		return
	}
	l.items[k] = l.order.PushFront(&lruItem[K, V]{key: k, val: v})
	for l.order.Len() > l.size {
		oldest := l.order.Back()
		l.order.Remove(oldest)
		delete(l.items, oldest.Value.(*lruItem[K, V]).key)
	}
}

func (l *lru[K, V]) remove(k K) {
	if e, ok := l.items[k]; ok {
		l.order.Remove(e)
		delete(l.items, k)
	}
}

func (l *lru[K, V]) len() int { return l.order.Len() }

// tokenBucket is a rate limiter driven by an injected clock. Not safe for
// concurrent use; callers hold their own lock.
type tokenBucket struct {
	rate   float64 // tokens per second; +Inf disables limiting
	burst  float64
	tokens float64
	last   time.Time
}

func newTokenBucket(rate float64, burst int) *tokenBucket {
	if rate <= 0 {
		rate = math.Inf(1)
	}
	b := float64(max(burst, 1))
	return &tokenBucket{rate: rate, burst: b, tokens: b}
}

func (b *tokenBucket) allow(now time.Time) bool {
	if math.IsInf(b.rate, 1) {
		return true
	}
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = math.Min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
