module tb;
  reg [3:0] count = 0;
  initial begin
    repeat (5) #1 count = count + 1;
    $display("tb: count=%0d", count);
    $finish;
  end
endmodule
