package stack

type Stack struct {
	items []int
}

func (s *Stack) Push(v int) {
	
}
