module top;
  wire w;
  counter c(.clk(1'b0));
endmodule
